package maildrop

// SetHeaderLimit sets how many messages of a folder keep their rebuilt
// header in the index (defaultHeaderLimit when n <= 0).
func SetHeaderLimit(be *SpoolBackend, n int) { be.headerLimit = n }

package gateway

// msgList is a session's messages: read through the maildrop's Lister
// when it has one, else from the list Messages returned.
type msgList struct {
	infos []MessageInfo
	l     Lister
	n     int // messages shown (TCPIP$POP_MESSAGE_MAXIMUM may cut the list)
}

func listOf(md Maildrop) msgList {
	if l, ok := md.(Lister); ok {
		return msgList{l: l, n: l.Count()}
	}
	infos := md.Messages()
	return msgList{infos: infos, n: len(infos)}
}

func (m *msgList) size(i int) int64 {
	if m.l != nil {
		return m.l.Size(i)
	}
	return m.infos[i].Size
}

func (m *msgList) uid(i int) string {
	if m.l != nil {
		return m.l.UID(i)
	}
	return m.infos[i].UID
}

// info returns message i's MessageInfo.
func (m *msgList) info(i int) MessageInfo { return MessageInfo{Size: m.size(i), UID: m.uid(i)} }

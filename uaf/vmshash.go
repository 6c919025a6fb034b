package uaf

// OpenVMS password hashes ($HASH_PASSWORD, LGI$HPWD), so that users can
// log in with their old VMS password once, after which it is replaced by a
// bcrypt hash.
//
// The three Purdy algorithms hash a password in two steps. First the
// password, a 16-bit salt and the user name are folded ("collapsed") into
// one 64-bit number U: each string is added into the eight bytes of U, byte
// by byte, cyclically; the salt is added as a 16-bit word at byte 3. Then U
// goes through the Purdy polynomial (G. B. Purdy, "A High Security Log-in
// Procedure", CACM 17(8), 1974) modulo P = 2^64 - 59, the largest prime
// below 2^64:
//
//	f(U) = U^N0 + C1*U^N1 + C2*U^3 + C3*U^2 + C4*U + C5  (mod P)
//	N0 = 2^24 - 3, N1 = 2^24 - 63
//	C1..C5 = 2^64 - 83, - 179, - 257, - 323, - 363
//
// The variants differ in the folding: PURDY (algorithm 1) pads or cuts the
// user name to 12 characters; PURDY_V (2) takes it as it is; PURDY_S (3)
// also adds the password length into bytes 0-1 first and, after each 8
// characters folded, rotates each 32-bit half of U left by one bit. The
// position a character is added at counts down: with n characters left
// (the current one included), it goes into byte n mod 8. Passwords are
// upper case unless the account has the PWDMIX flag. The hash is U's eight
// bytes, least significant first, as SYSUAF stores the quadword.
//
// Checked against the published vectors of Authen::DecHpwd and
// Authen::Passphrase::VMSPurdy (CPAN; vmshash_test.go).

import (
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"math/bits"
	"strings"
)

// VMS password hash algorithms (UAI$C_*).
const (
	VMSADII   = 0 // AUTODIN-II CRC: not supported
	VMSPurdy  = 1
	VMSPurdyV = 2
	VMSPurdyS = 3
)

// VMSHash is a password hash from an OpenVMS SYSUAF.
type VMSHash struct {
	Algorithm uint8   // VMSPurdy, VMSPurdyV or VMSPurdyS
	Salt      uint16  // UAI$_SALT
	Hash      [8]byte // UAI$_PWD, the quadword's bytes in memory order
	MixedCase bool    // the account's PWDMIX flag: the password is not upper-cased
}

// Supported reports whether the algorithm is one vmspop can check.
func (h *VMSHash) Supported() bool {
	return h.Algorithm >= VMSPurdy && h.Algorithm <= VMSPurdyS
}

// AlgorithmName returns PURDY, PURDY_V, PURDY_S or the number.
func (h *VMSHash) AlgorithmName() string {
	switch h.Algorithm {
	case VMSPurdy:
		return "PURDY"
	case VMSPurdyV:
		return "PURDY_V"
	case VMSPurdyS:
		return "PURDY_S"
	}
	return fmt.Sprintf("%d", h.Algorithm)
}

// Check reports whether password is the password of user that the hash
// was made from. VMS passwords are 1 to 32 characters.
func (h *VMSHash) Check(user, password string) bool {
	if !h.Supported() || len(password) == 0 || len(password) > 32 {
		return false
	}
	if !h.MixedCase {
		password = strings.ToUpper(password)
	}
	got := LGIHashPassword(h.Algorithm, h.Salt, strings.ToUpper(user), password)
	return subtle.ConstantTimeCompare(got[:], h.Hash[:]) == 1
}

// String returns the form the accounts file keeps it in:
// ALGORITHM,SALT,HASH[,PWDMIX] with the salt as 4 and the hash as 16
// hexadecimal digits, e.g. "3,04D2,2CEF674777A54880".
func (h *VMSHash) String() string {
	s := fmt.Sprintf("%d,%04X,%X", h.Algorithm, h.Salt, h.Hash[:])
	if h.MixedCase {
		s += ",PWDMIX"
	}
	return s
}

// ParseVMSHash parses what String returns.
func ParseVMSHash(s string) (*VMSHash, error) {
	f := strings.Split(s, ",")
	if len(f) < 3 || len(f) > 4 || len(f) == 4 && !strings.EqualFold(f[3], "PWDMIX") {
		return nil, fmt.Errorf("uaf: bad VMS hash %q (want ALGORITHM,SALT,HASH[,PWDMIX])", s)
	}
	var h VMSHash
	var alg uint64
	if _, err := fmt.Sscanf(f[0], "%d", &alg); err != nil || alg > 255 || fmt.Sprint(alg) != f[0] {
		return nil, fmt.Errorf("uaf: bad VMS hash algorithm %q", f[0])
	}
	h.Algorithm = uint8(alg)
	if len(f[1]) != 4 || !isHex(f[1]) {
		return nil, fmt.Errorf("uaf: bad VMS salt %q (want 4 hexadecimal digits)", f[1])
	}
	fmt.Sscanf(f[1], "%x", &h.Salt)
	if len(f[2]) != 16 || !isHex(f[2]) {
		return nil, fmt.Errorf("uaf: bad VMS hash %q (want 16 hexadecimal digits)", f[2])
	}
	for i := range 8 {
		fmt.Sscanf(f[2][2*i:2*i+2], "%02x", &h.Hash[i])
	}
	h.MixedCase = len(f) == 4
	return &h, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return len(s) > 0
}

// purdyP is the modulus, 2^64 - 59.
const purdyP = 1<<64 - 59

const (
	purdyN0 = 1<<24 - 3
	purdyN1 = 1<<24 - 63
)

var purdyC = [5]uint64{1<<64 - 83, 1<<64 - 179, 1<<64 - 257, 1<<64 - 323, 1<<64 - 363}

// LGIHashPassword is $HASH_PASSWORD for the Purdy algorithms (1, 2, 3):
// it hashes password (as given: upper-case it first unless PWDMIX) for
// user with salt and returns the 8 bytes SYSUAF stores. Any other
// algorithm gives zero.
func LGIHashPassword(alg uint8, salt uint16, user, password string) [8]byte {
	var u [8]byte
	if alg < VMSPurdy || alg > VMSPurdyS {
		return u
	}
	if alg == VMSPurdy {
		user = (user + strings.Repeat(" ", 12))[:12]
	}
	rotate := alg == VMSPurdyS
	if rotate {
		addWord(u[0:2], uint16(len(password)))
	}
	collapse(&u, password, rotate)
	addWord(u[3:5], salt)
	collapse(&u, user, rotate)
	v := purdy(binary.LittleEndian.Uint64(u[:]) % purdyP)
	binary.LittleEndian.PutUint64(u[:], v)
	return u
}

// addWord adds v to the little-endian 16-bit word in b.
func addWord(b []byte, v uint16) {
	binary.LittleEndian.PutUint16(b, binary.LittleEndian.Uint16(b)+v)
}

// collapse folds s into u (see the file comment).
func collapse(u *[8]byte, s string, rotate bool) {
	for i := 0; i < len(s); i++ {
		pos := (len(s) - i) & 7
		u[pos] += s[i]
		if rotate && pos == 7 {
			lo := binary.LittleEndian.Uint32(u[0:4])
			hi := binary.LittleEndian.Uint32(u[4:8])
			binary.LittleEndian.PutUint32(u[0:4], bits.RotateLeft32(lo, 1))
			binary.LittleEndian.PutUint32(u[4:8], bits.RotateLeft32(hi, 1))
		}
	}
}

// purdy evaluates the polynomial at u (< P).
func purdy(u uint64) uint64 {
	c := func(i int) uint64 { return purdyC[i] % purdyP }
	// U^N0 + C1*U^N1 = U^N1 * (U^(N0-N1) + C1)
	t := mulP(powP(u, purdyN1), addP(powP(u, purdyN0-purdyN1), c(0)))
	// ((C2*U + C3)*U + C4)*U + C5
	r := addP(mulP(u, c(1)), c(2))
	r = addP(mulP(r, u), c(3))
	r = mulP(r, u)
	return addP(addP(t, r), c(4))
}

func addP(a, b uint64) uint64 {
	s, carry := bits.Add64(a, b, 0)
	if carry != 0 {
		return s + 59 // a + b - P, with 2^64 = P + 59
	}
	if s >= purdyP {
		return s - purdyP
	}
	return s
}

func mulP(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	_, rem := bits.Div64(hi, lo, purdyP) // hi < P since a, b < P
	return rem
}

func powP(u, n uint64) uint64 {
	r := uint64(1)
	for ; n > 0; n >>= 1 {
		if n&1 != 0 {
			r = mulP(r, u)
		}
		u = mulP(u, u)
	}
	return r
}

package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the argon2id cost settings. DefaultArgon2 follows the
// OWASP recommendation (m=64 MiB, t=3, p=1 is above the 19 MiB/t=2 floor);
// tests use a cheaper setting.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultArgon2 is the production cost.
var DefaultArgon2 = Argon2Params{Memory: 64 * 1024, Time: 3, Threads: 1}

const (
	saltLen = 16
	keyLen  = 32
)

var b64 = base64.RawStdEncoding

// HashPassword returns a PHC-format argon2id hash:
// $argon2id$v=19$m=65536,t=3,p=1$<salt>$<hash>.
func HashPassword(pw string, p Argon2Params) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// dummyHash returns a well-formed PHC hash with these parameters that no
// password matches (random salt and key): checking a password against it
// costs exactly what checking a real one does, which keeps unknown
// usernames from answering faster. Unlike hashing a dummy password it needs
// no argon2 run to make, so a starting server does not allocate the
// parameter's memory (64 MiB by default) before it serves anything.
func dummyHash(p Argon2Params) (string, error) {
	b := make([]byte, saltLen+keyLen)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("dummy hash: %w", err)
	}
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(b[:saltLen]), b64.EncodeToString(b[saltLen:])), nil
}

// maxArgonMemory bounds the memory a stored hash may ask for (a tampered
// record must not make login allocate gigabytes).
const maxArgonMemory = 1 << 20 // 1 GiB in KiB

// CheckPassword reports whether pw matches the PHC hash, in constant time
// with respect to the hash contents.
func CheckPassword(pw, phc string) (bool, error) {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, fmt.Errorf("%w: not an argon2id hash", ErrInvalid)
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false, fmt.Errorf("%w: argon2 version %q", ErrInvalid, parts[2])
	}
	var p Argon2Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return false, fmt.Errorf("%w: argon2 params %q", ErrInvalid, parts[3])
	}
	if p.Memory == 0 || p.Memory > maxArgonMemory || p.Time == 0 || p.Time > 20 || p.Threads == 0 {
		return false, fmt.Errorf("%w: argon2 params out of range %q", ErrInvalid, parts[3])
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, fmt.Errorf("%w: argon2 salt", ErrInvalid)
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 128 {
		return false, fmt.Errorf("%w: argon2 key", ErrInvalid)
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// GeneratePassword returns a random one-time password of 20 characters from
// an alphabet without look-alikes (0/O, 1/l/I), easy to read off a console.
func GeneratePassword() (string, error) {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate password: %w", err)
	}
	for i := range b {
		// 256 % 56 != 0 gives a tiny bias (< 2%) per character; 20 chars
		// still carry > 110 bits, far beyond guessing.
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b), nil
}

package auth

import (
	"strings"
	"testing"
)

// The timing dummy is a real argon2id hash of the configured cost that no
// password matches, so an unknown user's login costs what a known one's does.
func TestDummyHash(t *testing.T) {
	p := Argon2Params{Memory: 1024, Time: 2, Threads: 1}
	d, err := dummyHash(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(d, "$argon2id$v=19$m=1024,t=2,p=1$") {
		t.Errorf("dummy hash %q does not carry the configured parameters", d)
	}
	for _, pw := range []string{"", "password", "not-a-password-for-timing-only"} {
		ok, err := CheckPassword(pw, d)
		if err != nil || ok {
			t.Errorf("CheckPassword(%q, dummy) = %v, %v; want false, nil", pw, ok, err)
		}
	}
	if d2, _ := dummyHash(p); d2 == d {
		t.Error("two dummy hashes are equal: salt and key are not random")
	}
}

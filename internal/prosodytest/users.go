package prosodytest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// AddUser creates the account user@domain with password, or replaces its
// password, while prosody runs. Its roster lets the domain's component see
// the account's presence, as Finesse sees every agent's.
//
// It writes prosody's internal storage files directly (each by an atomic
// rename): prosody reads them at each sign-in, and one file write is far
// quicker than a prosodyctl process per account, which matters for tests of
// hundreds of agents. user is a loginId or a name of letters, digits, '.',
// '_' and '-', matched without regard to case, as XMPP does.
func (s *Server) AddUser(domain, user, password string) error {
	if _, err := s.componentOf(domain); err != nil {
		return err
	}
	node := strings.ToLower(user)
	if node == "" || strings.Trim(node, "abcdefghijklmnopqrstuvwxyz0123456789._-") != "" {
		return fmt.Errorf("prosodytest: user %q: use letters, digits, '.', '_' and '-'", user)
	}
	account := fmt.Sprintf("return {\n\t[\"password\"] = %s;\n};\n", luaString(password))
	if err := s.store(domain, "accounts", node, account); err != nil {
		return err
	}
	// subscription "from": the component is subscribed to the user's
	// presence, so prosody sends it the user's available and unavailable
	// presence; the user gets nothing from the component but its messages.
	roster := fmt.Sprintf("return {\n\t[false] = { [\"version\"] = 1; };\n\t[%s] = { [\"subscription\"] = \"from\"; [\"groups\"] = {}; };\n};\n",
		luaString("pubsub."+domain))
	return s.store(domain, "roster", node, roster)
}

// store writes one file of prosody's internal storage.
func (s *Server) store(domain, store, node, content string) error {
	dir := filepath.Join(s.dir, "data", dataEncode(domain), store)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("prosodytest: %w", err)
	}
	path := filepath.Join(dir, dataEncode(node)+".dat")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return fmt.Errorf("prosodytest: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("prosodytest: %w", err)
	}
	return nil
}

// dataEncode encodes a name as prosody's datamanager does for file names:
// every byte that is not a letter or a digit becomes %xx.
func dataEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02x", c)
		}
	}
	return b.String()
}

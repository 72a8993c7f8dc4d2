package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
)

// How the nodes of a cluster authenticate to NATS. Whoever may publish on
// the cluster's subjects can inject events into any workspace, and whoever
// may write its buckets can mint workspace tokens, so no NATS connection
// goes without a credential:
//
//   - An embedded server serving this node alone (-nats-embedded without
//     -nats-listen) does not listen at all; the node connects in process,
//     with a token made at start and kept in memory only.
//   - An embedded server serving other nodes (-nats-listen) requires the
//     token of a file, which it creates on first start (mode 0600) and
//     reads on later starts, so that the other nodes' token stays valid
//     across its restarts. The other nodes read the same file with
//     -nats-token-file.
//   - A node joining an external NATS authenticates with a NATS
//     credentials file (-nats-creds), a token file, or the user and
//     password in its -nats URL.

// tokenFileName is the token file of an embedded server, in -nats-store,
// unless -nats-token-file names another.
const tokenFileName = "nats-token"

// minTokenLen refuses a token file too short to resist guessing.
const minTokenLen = 20

// checkNATSAuth refuses combinations of NATS flags that would be ignored.
func (c config) checkNATSAuth() []error {
	var errs []error
	if c.natsListen != "" && !c.natsEmbedded {
		errs = append(errs, errors.New("-nats-listen needs -nats-embedded: it is where the embedded NATS server accepts other nodes"))
	}
	if c.natsCreds != "" && c.nats == "" {
		errs = append(errs, errors.New("-nats-creds needs -nats: it is the credential for the NATS server named there"))
	}
	if c.natsCreds != "" && c.natsTokenFile != "" {
		errs = append(errs, errors.New("-nats-creds and -nats-token-file exclude each other: give one credential"))
	}
	if c.natsTokenFile != "" && !c.clustered() {
		errs = append(errs, errors.New("-nats-token-file needs -nats (to join a node's embedded server) or -nats-embedded with -nats-listen"))
	}
	if c.natsTokenFile != "" && c.natsEmbedded && c.natsListen == "" {
		errs = append(errs, errors.New("-nats-token-file: an embedded server without -nats-listen serves this node alone and needs no token file; add -nats-listen to serve other nodes"))
	}
	if (c.natsCreds != "" || c.natsTokenFile != "") && urlsHaveUser(c.nats) {
		errs = append(errs, errors.New("-nats: the URL carries a user or token, and -nats-creds or -nats-token-file another credential: give one"))
	}
	return errs
}

func urlsHaveUser(urls string) bool {
	for _, raw := range splitList(urls) {
		if u, err := url.Parse(raw); err == nil && u.User != nil {
			return true
		}
	}
	return false
}

// embeddedToken returns the token the embedded server requires, and the
// file it is in, "" for a server that does not listen.
func embeddedToken(cfg config) (token, file string, err error) {
	if cfg.natsListen == "" {
		return rand.Text(), "", nil
	}
	file = cfg.natsTokenFile
	if file == "" {
		file = filepath.Join(cfg.natsStore, tokenFileName)
	}
	token, err = readToken(file)
	if !errors.Is(err, fs.ErrNotExist) {
		return token, file, err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return "", "", fmt.Errorf("create the NATS token file: %w", err)
	}
	token = rand.Text()
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", "", fmt.Errorf("create the NATS token file: %w", err)
	}
	_, err = fmt.Fprintln(f, token)
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return "", "", fmt.Errorf("write the NATS token file %s: %w", file, err)
	}
	return token, file, nil
}

// readToken reads a token file: one line.
func readToken(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read the NATS token file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if len(token) < minTokenLen || strings.ContainsAny(token, " \t\r\n") {
		return "", fmt.Errorf("NATS token file %s: want one line of at least %d characters; delete it and restart the embedded node for a new one", file, minTokenLen)
	}
	return token, nil
}

// clientAuth returns the options that authenticate a node joining -nats.
func clientAuth(cfg config) ([]nats.Option, error) {
	switch {
	case cfg.natsCreds != "":
		if err := checkCreds(cfg.natsCreds); err != nil {
			return nil, fmt.Errorf("-nats-creds: %w", err)
		}
		return []nats.Option{nats.UserCredentials(cfg.natsCreds)}, nil
	case cfg.natsTokenFile != "":
		token, err := readToken(cfg.natsTokenFile)
		if err != nil {
			return nil, fmt.Errorf("-nats-token-file: %w (is the node with the embedded server started?)", err)
		}
		return []nats.Option{nats.Token(token)}, nil
	}
	return nil, nil
}

// checkCreds reads a credentials file as the NATS client will, so that a
// wrong file is refused at start saying what is wrong with it, rather than
// by NATS as an "Authorization Violation". Its errors never quote the file,
// which holds a secret.
func checkCreds(file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	defer clear(b)
	const want = "want a NATS credentials file, a user JWT and its nkey seed as 'nsc generate creds' writes them"
	userJWT, err := jwt.ParseDecoratedJWT(b)
	if err != nil {
		return fmt.Errorf("%s: no user JWT in it; %s", file, want)
	}
	claims, err := jwt.DecodeUserClaims(userJWT)
	if err != nil {
		return fmt.Errorf("%s: no user JWT in it; %s", file, want)
	}
	seed, err := jwt.ParseDecoratedUserNKey(b)
	if err != nil {
		return fmt.Errorf("%s: no user nkey seed in it; %s", file, want)
	}
	defer seed.Wipe()
	if pub, err := seed.PublicKey(); err != nil || pub != claims.Subject {
		return fmt.Errorf("%s: its nkey seed is not the one of its user JWT; %s", file, want)
	}
	return nil
}

// connectHint says what to check when a node cannot connect to NATS.
func connectHint(cfg config, err error) string {
	if cfg.natsEmbedded || !errors.Is(err, nats.ErrAuthorization) {
		return "is the server running, with JetStream enabled?"
	}
	switch {
	case cfg.natsCreds != "":
		return "NATS refused the user of -nats-creds: does the server know its account, and is the user neither expired nor revoked?"
	case cfg.natsTokenFile != "":
		return "NATS refused the token of -nats-token-file: is it the file of the node with the embedded server?"
	case urlsHaveUser(cfg.nats):
		return "NATS refused the user or token in -nats"
	}
	return "NATS requires a credential: give -nats-creds, -nats-token-file, or a user in the -nats URL"
}

// redact hides the credentials in NATS URLs before they reach a message.
func redact(urls string) string {
	var out []string
	for _, u := range splitList(urls) {
		out = append(out, redactURL(u))
	}
	return fmt.Sprint(out)
}

// redactURL hides the credential of one NATS URL: the password of
// user:password, or the token that stands alone before the @.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(a URL that does not parse)"
	}
	if u.User != nil {
		if _, hasPassword := u.User.Password(); !hasPassword {
			u.User = url.User("xxxxx")
		}
	}
	return u.Redacted()
}

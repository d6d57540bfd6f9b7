package browser

import (
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// trustCAs makes an NSS database that trusts the CA certificates in
// pemData, for Chromium to find at $HOME/.pki/nssdb, and returns that
// HOME (inside the browser's profile, so the producer's own NSS database
// is never touched). On Linux, Chromium verifies with its root store plus
// the anchors of that database; an anchor there is verified like a public
// CA (host name, expiry), unlike --ignore-certificate-errors-spki-list,
// which would pin one server key and skip every other check for it.
func trustCAs(dataDir string, pemData []byte) (string, error) {
	certutil, err := exec.LookPath("certutil")
	if err != nil {
		return "", errors.New("livekit.tls_ca needs certutil to give the browser the CA: run make deps (package libnss3-tools)")
	}
	home := filepath.Join(dataDir, "home")
	db := filepath.Join(home, ".pki", "nssdb")
	if err := os.MkdirAll(db, 0o700); err != nil {
		return "", fmt.Errorf("browser trust: %w", err)
	}
	run := func(args ...string) error {
		out, err := exec.Command(certutil, append([]string{"-d", "sql:" + db}, args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("browser trust: certutil %s: %v: %s", args[0], err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	if err := run("-N", "--empty-password"); err != nil {
		return "", err
	}
	rest, n := pemData, 0
	for {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		n++
		file := filepath.Join(home, fmt.Sprintf("ca%d.pem", n))
		if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
			return "", fmt.Errorf("browser trust: %w", err)
		}
		// C: a trusted CA for TLS servers.
		if err := run("-A", "-n", fmt.Sprintf("roomcast-ca-%d", n), "-t", "C,,", "-i", file); err != nil {
			return "", err
		}
	}
	if n == 0 {
		return "", errors.New("browser trust: no CERTIFICATE block in the CA's PEM")
	}
	return home, nil
}

package ui

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"
	"github.com/livekit/protocol/livekit"
	"github.com/spf13/viper"
)

// settings are the studio's preferences, kept in the same config.yaml the
// command line reads (livekit.* are its keys; studio.* are the window's).
type settings struct {
	Connection connection
	OutputDir  string
	S3         s3Settings
}

// s3Settings are the bucket recordings go to when a profile says S3.
type s3Settings struct {
	Endpoint, Region, Bucket, AccessKey, Secret string
	ForcePathStyle                              bool
}

// upload is the request's S3 destination, nil when no bucket is set.
func (s s3Settings) upload() *livekit.S3Upload {
	if s.Bucket == "" {
		return nil
	}
	return &livekit.S3Upload{
		Endpoint: s.Endpoint, Region: s.Region, Bucket: s.Bucket,
		AccessKey: s.AccessKey, Secret: s.Secret, ForcePathStyle: s.ForcePathStyle,
	}
}

// settingsStore reads and writes the settings in config.yaml, mode 0600
// (it holds the API secret and S3 keys), keeping the file's other keys.
type settingsStore struct{ path string }

func (s settingsStore) load() (settings, error) {
	if !exists(s.path) {
		return settings{}, nil
	}
	v, err := readYAML(s.path)
	if err != nil {
		return settings{}, err
	}
	return settings{
		Connection: connection{
			UseDemo:    v.GetBool("studio.use_demo"),
			LiveKitURL: v.GetString("livekit.url"),
			APIKey:     v.GetString("livekit.api_key"),
			APISecret:  v.GetString("livekit.api_secret"),
			TLSCA:      v.GetString("livekit.tls_ca"),
			EngineURL:  v.GetString("studio.engine_url"),
		},
		OutputDir: v.GetString("studio.output_dir"),
		S3: s3Settings{
			Endpoint:       v.GetString("studio.s3.endpoint"),
			Region:         v.GetString("studio.s3.region"),
			Bucket:         v.GetString("studio.s3.bucket"),
			AccessKey:      v.GetString("studio.s3.access_key"),
			Secret:         v.GetString("studio.s3.secret"),
			ForcePathStyle: v.GetBool("studio.s3.force_path_style"),
		},
	}, nil
}

// loadHotkeys reads the hotkeys from the config: the defaults where it
// has none.
func (s settingsStore) loadHotkeys() (hotkeys, error) {
	if !exists(s.path) {
		return defaultHotkeys(), nil
	}
	v, err := readYAML(s.path)
	if err != nil {
		return defaultHotkeys(), err
	}
	return loadHotkeys(v), nil
}

// saveHotkeys writes the hotkeys into the config, keeping its other keys.
func (s settingsStore) saveHotkeys(h hotkeys) error {
	v := viper.New()
	if exists(s.path) {
		var err error
		if v, err = readYAML(s.path); err != nil {
			return err
		}
	}
	h.set(v)
	return writeYAML(v, s.path)
}

func (s settingsStore) save(st settings) error {
	v := viper.New()
	if exists(s.path) {
		var err error
		if v, err = readYAML(s.path); err != nil {
			return err
		}
	}
	for key, val := range map[string]any{
		"studio.use_demo":            st.Connection.UseDemo,
		"livekit.url":                st.Connection.LiveKitURL,
		"livekit.api_key":            st.Connection.APIKey,
		"livekit.api_secret":         st.Connection.APISecret,
		"livekit.tls_ca":             st.Connection.TLSCA,
		"studio.engine_url":          st.Connection.EngineURL,
		"studio.output_dir":          st.OutputDir,
		"studio.s3.endpoint":         st.S3.Endpoint,
		"studio.s3.region":           st.S3.Region,
		"studio.s3.bucket":           st.S3.Bucket,
		"studio.s3.access_key":       st.S3.AccessKey,
		"studio.s3.secret":           st.S3.Secret,
		"studio.s3.force_path_style": st.S3.ForcePathStyle,
	} {
		v.Set(key, val)
	}
	return writeYAML(v, s.path)
}

// settingsDialog edits the settings: the LiveKit server (secret masked) or
// the embedded demo, the default folder, and the S3 bucket.
type settingsDialog struct {
	dlg    dialog.Dialog
	onSave func(settings) error

	useDemo                       *widget.Check
	url, apiKey, apiSecret        *widget.Entry
	urlField, keyField, secretFld *field
	tlsCA                         *widget.Entry
	tlsCAField                    *field
	remote                        *widget.Check
	engineURL                     *widget.Entry
	engineField                   *field
	folder                        *widget.Entry
	folderField                   *field
	endpoint, region, bucket      *widget.Entry
	endpointField                 *field
	s3Key, s3Secret               *widget.Entry
	pathStyle                     *widget.Check
	general                       *widget.Label
	save, cancel                  *widget.Button
}

// newSettingsDialog shows st; busy locks the connection (a recording or
// stream is running on it).
func newSettingsDialog(win fyne.Window, st settings, busy bool, onSave func(settings) error) *settingsDialog {
	d := &settingsDialog{onSave: onSave}
	entry := func(text, placeholder string, check func(string) error) *widget.Entry {
		e := &widget.Entry{Text: text, PlaceHolder: placeholder, Validator: check}
		e.ExtendBaseWidget(e)
		return e
	}
	c := st.Connection
	d.useDemo = widget.NewCheck("Use the embedded demo room", d.onUseDemo)
	d.url = entry(c.LiveKitURL, "wss://my-project.livekit.cloud", validateServerURL)
	d.apiKey = entry(c.APIKey, "API key", nil)
	d.apiSecret = entry(c.APISecret, "API secret", nil)
	d.apiSecret.Password = true
	d.urlField, d.keyField, d.secretFld = newField("LiveKit server URL", d.url), newField("API key", d.apiKey), newField("API secret", d.apiSecret)
	d.tlsCA = entry(c.TLSCA, "/path/to/ca.pem (only for a self-signed server)", validateCAFile)
	d.tlsCAField = newField("CA certificate", d.tlsCA)
	d.engineURL = entry(c.EngineURL, "the LiveKit server's URL, or http://host:7890 for roomcast serve", validateEngineURL)
	d.engineField = newField("Egress service URL", d.engineURL)
	d.remote = widget.NewCheck("Record on an Egress service (remote engine)", func(bool) { d.onUseDemo(d.useDemo.Checked) })
	d.remote.SetChecked(c.EngineURL != "")
	d.folder = entry(st.OutputDir, "~/Videos/Roomcast", func(s string) error {
		if strings.TrimSpace(s) == "" {
			return nil // the built-in default
		}
		return validateFolder(s)
	})
	d.folderField = newField("Default folder for recordings", d.folder)
	d.endpoint = entry(st.S3.Endpoint, "https://s3.example.com (empty for AWS)", validateEndpoint)
	d.endpointField = newField("S3 endpoint", d.endpoint)
	d.region = entry(st.S3.Region, "us-east-1", nil)
	d.bucket = entry(st.S3.Bucket, "bucket", nil)
	d.s3Key = entry(st.S3.AccessKey, "access key (empty: environment)", nil)
	d.s3Secret = entry(st.S3.Secret, "secret", nil)
	d.s3Secret.Password = true
	d.pathStyle = widget.NewCheck("Path-style addressing", nil)
	d.pathStyle.SetChecked(st.S3.ForcePathStyle)
	d.general = &widget.Label{Importance: widget.DangerImportance, Wrapping: fyne.TextWrapWord}
	d.save = &widget.Button{Text: "Save", Importance: widget.HighImportance, OnTapped: d.onSaveTapped}
	d.cancel = widget.NewButton("Cancel", func() { d.dlg.Hide() })
	d.useDemo.SetChecked(c.UseDemo || c.LiveKitURL == "")
	d.onUseDemo(d.useDemo.Checked)

	conn := container.NewVBox(heading("LiveKit"), d.useDemo, d.urlField.object(),
		container.NewGridWithColumns(2, d.keyField.object(), d.secretFld.object()), d.tlsCAField.object(),
		heading("Engine"), d.remote, d.engineField.object())
	if busy {
		for _, w := range []fyne.Disableable{d.useDemo, d.url, d.apiKey, d.apiSecret, d.tlsCA, d.remote, d.engineURL} {
			w.Disable()
		}
		conn.Add(&widget.Label{Text: "Stop recording and streaming to change the connection.", Importance: widget.WarningImportance})
	}
	s3 := container.NewVBox(heading("S3 uploads"), d.endpointField.object(),
		container.NewGridWithColumns(2, newField("Region", d.region).object(), newField("Bucket", d.bucket).object()),
		container.NewGridWithColumns(2, newField("Access key", d.s3Key).object(), newField("Secret", d.s3Secret).object()),
		d.pathStyle)
	content := container.NewVBox(conn, heading("Recordings"), d.folderField.object(), s3, d.general,
		container.NewHBox(layout.NewSpacer(), d.cancel, d.save))
	d.dlg = dialog.NewCustomWithoutButtons("Settings", content, win)
	d.dlg.Resize(fyne.NewSize(560, 0))
	return d
}

func (d *settingsDialog) show() { d.dlg.Show() }

// onUseDemo enables the server's fields unless the demo is chosen; a
// remote engine records a configured server's rooms, so it needs one too.
func (d *settingsDialog) onUseDemo(on bool) {
	if d.remote == nil {
		return // called while the dialog is built
	}
	editable := !on && !d.useDemo.Disabled()
	for _, w := range []fyne.Disableable{d.url, d.apiKey, d.apiSecret, d.tlsCA, d.remote} {
		setEnabled(w, editable)
	}
	setEnabled(d.engineURL, editable && d.remote.Checked)
}

func (d *settingsDialog) values() settings {
	trim := strings.TrimSpace
	c := connection{UseDemo: d.useDemo.Checked, LiveKitURL: trim(d.url.Text), APIKey: trim(d.apiKey.Text), APISecret: trim(d.apiSecret.Text), TLSCA: trim(d.tlsCA.Text)}
	if !c.UseDemo && d.remote.Checked {
		c.EngineURL = trim(d.engineURL.Text)
	}
	return settings{
		Connection: c,
		OutputDir:  trim(d.folder.Text),
		S3: s3Settings{Endpoint: trim(d.endpoint.Text), Region: trim(d.region.Text), Bucket: trim(d.bucket.Text),
			AccessKey: trim(d.s3Key.Text), Secret: trim(d.s3Secret.Text), ForcePathStyle: d.pathStyle.Checked},
	}
}

func (d *settingsDialog) onSaveTapped() {
	st := d.values()
	ok := true
	check := func(f *field, err error) {
		f.setError(err)
		ok = ok && err == nil
	}
	if !st.Connection.UseDemo {
		check(d.urlField, validateServerURL(st.Connection.LiveKitURL))
		check(d.keyField, required(st.Connection.APIKey, "give the API key, or use the demo room"))
		check(d.secretFld, required(st.Connection.APISecret, "give the API secret, or use the demo room"))
		check(d.tlsCAField, validateCAFile(st.Connection.TLSCA))
		if d.remote.Checked {
			check(d.engineField, validateEngineURL(st.Connection.EngineURL))
		}
	}
	if st.OutputDir != "" {
		check(d.folderField, validateFolder(st.OutputDir))
	}
	check(d.endpointField, validateEndpoint(st.S3.Endpoint))
	if !ok {
		return
	}
	if err := d.onSave(st); err != nil {
		d.general.SetText(userMessage(err))
		return
	}
	d.dlg.Hide()
}

func required(s, msg string) error {
	if s == "" {
		return errors.New(msg)
	}
	return nil
}

// validateServerURL checks a LiveKit URL: ws, wss, http or https, with a
// host.
func validateServerURL(s string) error {
	s = strings.TrimSpace(s)
	if s == "" {
		return errors.New("give the server's URL, e.g. wss://my-project.livekit.cloud")
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return errors.New("this is not a URL; give e.g. wss://my-project.livekit.cloud")
	}
	switch u.Scheme {
	case "ws", "wss", "http", "https":
		return nil
	}
	return errors.New("use a ws://, wss://, http:// or https:// URL")
}

// validateCAFile checks livekit.tls_ca: empty, or a PEM file holding a
// certificate.
func validateCAFile(path string) error {
	path = strings.TrimSpace(path)
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cannot read it (%v); give the PEM file of the CA that signed the server's certificate", err)
	}
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if _, err := x509.ParseCertificate(block.Bytes); block.Type == "CERTIFICATE" && err == nil {
			return nil
		}
	}
	return errors.New("no certificate in it; give the PEM file of the CA that signed the server's certificate")
}

// validateEngineURL checks a remote Egress service's URL.
func validateEngineURL(s string) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("give the Egress service's URL: the LiveKit server's own for LiveKit Egress, or http://host:7890 for another machine's roomcast serve")
	}
	return validateServerURL(s)
}

func validateEndpoint(s string) error {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	req := &livekit.RoomCompositeEgressRequest{FileOutputs: []*livekit.EncodedFileOutput{{
		Filepath: "check", Output: &livekit.EncodedFileOutput_S3{S3: &livekit.S3Upload{Bucket: "b", Endpoint: strings.TrimSpace(s)}},
	}}}
	return validatorErr(fieldCheck(req, "file_outputs[0].s3.endpoint"))
}

// heading is a section title.
func heading(text string) fyne.CanvasObject {
	return &canvas.Text{Text: strings.ToUpper(text), Color: colorMuted, TextSize: 11, TextStyle: fyne.TextStyle{Bold: true}}
}

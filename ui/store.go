package ui

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

// Files holding stream keys and secrets are the owner's only.
const (
	secretFileMode = 0o600
	secretDirMode  = 0o700
)

// readYAML reads a YAML file with viper.
func readYAML(path string) (*viper.Viper, error) {
	v := viper.New()
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return v, nil
}

// writeYAML writes v's settings to path, mode 0600 whatever the file had
// before. It writes a temporary file beside it and renames it over, so a
// crash leaves the old file or the new one, never half of one.
func writeYAML(v *viper.Viper, path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, secretDirMode); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*") // CreateTemp makes it 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	v.SetConfigType("yaml")
	err = v.WriteConfigTo(tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// toViper puts a struct with mapstructure tags into a new viper.
func toViper(x any) (*viper.Viper, error) {
	var m map[string]any
	if err := mapstructure.Decode(x, &m); err != nil {
		return nil, err
	}
	v := viper.New()
	if err := v.MergeConfigMap(m); err != nil {
		return nil, err
	}
	return v, nil
}

// profileStore keeps named profiles, one YAML file each, in a folder.
// Names are free text; the file holds the name, and its file name is only
// a readable slug of it.
type profileStore struct{ dir string }

var errNoProfile = errors.New("no such profile")

// names lists the saved profiles, sorted.
func (s profileStore) names() ([]string, error) {
	files, err := s.files()
	if err != nil {
		return nil, err
	}
	var out []string
	for name := range files {
		out = append(out, name)
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	return out, nil
}

// files maps each profile's name to its file.
func (s profileStore) files() (map[string]string, error) {
	paths, err := filepath.Glob(filepath.Join(s.dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, path := range paths {
		v, err := readYAML(path)
		if err != nil {
			continue // not ours, or damaged: leave it alone
		}
		if name := v.GetString("name"); name != "" {
			out[name] = path
		}
	}
	return out, nil
}

func (s profileStore) load(name string) (profile, error) {
	files, err := s.files()
	if err != nil {
		return profile{}, err
	}
	path, ok := files[name]
	if !ok {
		return profile{}, fmt.Errorf("%w: %q", errNoProfile, name)
	}
	return readProfile(path)
}

// save writes p under p.Name, replacing a profile of that name.
func (s profileStore) save(p profile) error {
	if err := checkProfileName(p.Name); err != nil {
		return err
	}
	files, err := s.files()
	if err != nil {
		return err
	}
	path, ok := files[p.Name]
	if !ok {
		path = s.freePath(p.Name, files)
	}
	return writeProfile(p, path)
}

// rename gives a saved profile a new name that no other profile has.
func (s profileStore) rename(old, name string) error {
	if err := checkProfileName(name); err != nil {
		return err
	}
	files, err := s.files()
	if err != nil {
		return err
	}
	path, ok := files[old]
	if !ok {
		return fmt.Errorf("%w: %q", errNoProfile, old)
	}
	if _, taken := files[name]; taken && name != old {
		return fmt.Errorf("a profile named %q exists already; pick another name", name)
	}
	p, err := readProfile(path)
	if err != nil {
		return err
	}
	p.Name = name
	newPath := s.freePath(name, files)
	if err := writeProfile(p, newPath); err != nil {
		return err
	}
	if newPath != path {
		return os.Remove(path)
	}
	return nil
}

func (s profileStore) remove(name string) error {
	files, err := s.files()
	if err != nil {
		return err
	}
	path, ok := files[name]
	if !ok {
		return fmt.Errorf("%w: %q", errNoProfile, name)
	}
	return os.Remove(path)
}

// importFile saves the profile in the file at path, renamed "<name> (2)"
// and so on if its name is taken, and returns it.
func (s profileStore) importFile(path string) (profile, error) {
	p, err := readProfile(path)
	if err != nil {
		return profile{}, err
	}
	if p.Name == "" {
		p.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	files, err := s.files()
	if err != nil {
		return profile{}, err
	}
	base := p.Name
	for i := 2; files[p.Name] != ""; i++ {
		p.Name = fmt.Sprintf("%s (%d)", base, i)
	}
	return p, s.save(p)
}

var slugRE = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// freePath is a file name for name that no other profile uses.
func (s profileStore) freePath(name string, files map[string]string) string {
	slug := strings.Trim(slugRE.ReplaceAllString(name, "-"), "-.")
	if slug == "" {
		slug = "profile"
	}
	used := map[string]bool{}
	for n, p := range files {
		if n != name {
			used[p] = true
		}
	}
	path := filepath.Join(s.dir, slug+".yaml")
	for i := 2; used[path]; i++ {
		path = filepath.Join(s.dir, fmt.Sprintf("%s-%d.yaml", slug, i))
	}
	return path
}

func checkProfileName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return errors.New("give the profile a name")
	case strings.TrimSpace(name) != name:
		return errors.New("the name starts or ends with a space; remove it")
	case strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return errors.New("the name holds a control character; use plain text")
	}
	return nil
}

func readProfile(path string) (profile, error) {
	v, err := readYAML(path)
	if err != nil {
		return profile{}, err
	}
	var p profile
	if err := v.Unmarshal(&p); err != nil {
		return profile{}, fmt.Errorf("%s is not a Roomcast profile: %w", path, err)
	}
	return p, nil
}

// writeProfile writes p to path (0600: it holds stream keys).
func writeProfile(p profile, path string) error {
	v, err := toViper(p)
	if err != nil {
		return err
	}
	return writeYAML(v, path)
}

// exists reports whether path is there (errors other than "not there"
// count as there, so nothing is overwritten by mistake).
func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

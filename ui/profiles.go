package ui

import (
	"fmt"
	"slices"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// profilesBar saves, loads, renames, deletes, imports and exports named
// profiles: the whole setup of a show, destinations and keys included.
type profilesBar struct {
	win     fyne.Window
	store   profileStore
	current func() profile // the window's setup now
	apply   func(profile)  // put a profile into the window
	report  func(string)   // a problem, for the operator

	picker  *widget.Select
	save    *widget.Button
	saveAs  *widget.Button
	more    *widget.Button
	menu    *fyne.Menu
	loading bool // the picker is being set, not picked

	// the name dialog of Save As and Rename
	nameDlg   dialog.Dialog
	nameEntry *widget.Entry
	nameField *field
	nameOK    *widget.Button
}

func newProfilesBar(win fyne.Window, store profileStore, current func() profile, apply func(profile), report func(string)) *profilesBar {
	return &profilesBar{win: win, store: store, current: current, apply: apply, report: report}
}

func (b *profilesBar) buildUI() fyne.CanvasObject {
	b.picker = widget.NewSelect(nil, b.onPick)
	b.picker.PlaceHolder = "No profile"
	b.save = widget.NewButtonWithIcon("Save", theme.DocumentSaveIcon(), b.onSave)
	b.saveAs = widget.NewButton("Save As…", b.onSaveAs)
	b.menu = fyne.NewMenu("",
		fyne.NewMenuItem("Rename…", b.onRename),
		fyne.NewMenuItem("Delete…", b.onDelete),
		fyne.NewMenuItemSeparator(),
		fyne.NewMenuItem("Import…", b.onImport),
		fyne.NewMenuItem("Export…", b.onExport))
	b.more = widget.NewButtonWithIcon("", theme.MoreHorizontalIcon(), b.onMore)
	b.reload("")
	picker := container.NewGridWrap(fyne.NewSize(220, b.picker.MinSize().Height), b.picker)
	return container.NewHBox(picker, b.save, b.saveAs, b.more)
}

// reload lists the profiles and shows selected ("" for none).
func (b *profilesBar) reload(selected string) {
	names, err := b.store.names()
	if err != nil {
		b.report("Cannot read the profiles: " + err.Error())
	}
	b.loading = true
	defer func() { b.loading = false }()
	b.picker.Options = names
	if slices.Contains(names, selected) {
		b.picker.SetSelected(selected)
	} else {
		b.picker.ClearSelected()
	}
	b.picker.Refresh()
}

func (b *profilesBar) selected() string { return b.picker.Selected }

func (b *profilesBar) onPick(name string) {
	if b.loading || name == "" {
		return
	}
	p, err := b.store.load(name)
	if err != nil {
		b.report("Cannot load " + name + ": " + err.Error())
		return
	}
	b.apply(p)
}

func (b *profilesBar) onSave() {
	name := b.selected()
	if name == "" {
		b.onSaveAs()
		return
	}
	b.saveNamed(name)
}

func (b *profilesBar) saveNamed(name string) {
	p := b.current()
	p.Name = name
	if err := b.store.save(p); err != nil {
		b.report("Cannot save the profile: " + err.Error())
		return
	}
	b.reload(name)
}

func (b *profilesBar) onSaveAs() {
	b.askName("Save profile as", "", "Save", func(name string) error {
		if names, _ := b.store.names(); slices.Contains(names, name) {
			return fmt.Errorf("a profile named %q exists; pick another name, or choose it and press Save", name)
		}
		p := b.current()
		p.Name = name
		if err := b.store.save(p); err != nil {
			return err
		}
		b.reload(name)
		return nil
	})
}

func (b *profilesBar) onRename() {
	old := b.selected()
	if old == "" {
		b.report("Choose the profile to rename first.")
		return
	}
	b.askName("Rename profile", old, "Rename", func(name string) error {
		if err := b.store.rename(old, name); err != nil {
			return err
		}
		b.reload(name)
		return nil
	})
}

func (b *profilesBar) onDelete() {
	name := b.selected()
	if name == "" {
		b.report("Choose the profile to delete first.")
		return
	}
	dialog.ShowConfirm("Delete profile", fmt.Sprintf("Delete the profile %q? Its stream keys go with it.", name), func(ok bool) {
		if !ok {
			return
		}
		if err := b.store.remove(name); err != nil {
			b.report("Cannot delete the profile: " + err.Error())
		}
		b.reload("")
	}, b.win)
}

func (b *profilesBar) onImport() {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil || r == nil {
			return
		}
		r.Close()
		p, err := b.store.importFile(r.URI().Path())
		if err != nil {
			b.report("Cannot import the profile: " + err.Error())
			return
		}
		b.reload(p.Name)
		b.apply(p)
	}, b.win)
	d.SetFilter(storage.NewExtensionFileFilter([]string{".yaml", ".yml"}))
	d.Show()
}

func (b *profilesBar) onExport() {
	p := b.current()
	p.Name = b.selected()
	if p.Name == "" {
		p.Name = "Roomcast profile"
	}
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil || w == nil {
			return
		}
		w.Close()
		// written again as 0600: the file holds stream keys
		if err := writeProfile(p, w.URI().Path()); err != nil {
			b.report("Cannot export the profile: " + err.Error())
		}
	}, b.win)
	d.SetFileName(slugRE.ReplaceAllString(p.Name, "-") + ".yaml")
	d.Show()
}

func (b *profilesBar) onMore() {
	pos := fyne.CurrentApp().Driver().AbsolutePositionForObject(b.more).AddXY(0, b.more.Size().Height)
	widget.ShowPopUpMenuAtPosition(b.menu, b.win.Canvas(), pos)
}

// askName asks for a profile name; done saves under it, or says why not
// (shown at the name, the dialog stays).
func (b *profilesBar) askName(title, name, action string, done func(string) error) {
	b.nameEntry = &widget.Entry{Text: name, PlaceHolder: "e.g. Weekly show", Validator: func(s string) error { return validatorErr(checkProfileName(s)) }}
	b.nameEntry.ExtendBaseWidget(b.nameEntry)
	b.nameField = newField("Name", b.nameEntry)
	b.nameOK = &widget.Button{Text: action, Importance: widget.HighImportance}
	cancel := widget.NewButton("Cancel", func() { b.nameDlg.Hide() })
	b.nameOK.OnTapped = func() {
		err := checkProfileName(b.nameEntry.Text)
		if err == nil {
			err = done(b.nameEntry.Text)
		}
		if err != nil {
			b.nameField.setError(err)
			return
		}
		b.nameDlg.Hide()
	}
	b.nameEntry.OnSubmitted = func(string) { b.nameOK.OnTapped() }
	content := container.NewVBox(b.nameField.object(), container.NewHBox(layout.NewSpacer(), cancel, b.nameOK))
	b.nameDlg = dialog.NewCustomWithoutButtons(title, content, b.win)
	b.nameDlg.Resize(fyne.NewSize(380, 0))
	b.nameDlg.Show()
	b.win.Canvas().Focus(b.nameEntry)
}

func (b *profilesBar) setEnabled(on bool) {
	for _, w := range []fyne.Disableable{b.picker, b.more} {
		setEnabled(w, on)
	}
}

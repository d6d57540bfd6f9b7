package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// Colours of the studio. The accent is violet so that nothing in the
// chrome looks like the demo participants' pure red, green and blue, or
// like the REC and LIVE lights.
var (
	colorAccent     = color.NRGBA{R: 0x8b, G: 0x6c, B: 0xff, A: 0xff}
	colorBackground = color.NRGBA{R: 0x16, G: 0x17, B: 0x1c, A: 0xff}
	colorPanel      = color.NRGBA{R: 0x1f, G: 0x21, B: 0x28, A: 0xff}
	colorInput      = color.NRGBA{R: 0x2a, G: 0x2d, B: 0x36, A: 0xff}
	colorMuted      = color.NRGBA{R: 0x8a, G: 0x8f, B: 0x9c, A: 0xff}
	colorRec        = color.NRGBA{R: 0xf0, G: 0x3e, B: 0x4a, A: 0xff}
	colorLive       = color.NRGBA{R: 0xf0, G: 0x3e, B: 0x4a, A: 0xff}
	colorOK         = color.NRGBA{R: 0x3d, G: 0xd6, B: 0x8c, A: 0xff}
	colorWarn       = color.NRGBA{R: 0xff, G: 0xb0, B: 0x3b, A: 0xff}
	colorIdle       = color.NRGBA{R: 0x4a, G: 0x4e, B: 0x5a, A: 0xff}
	colorPreviewBg  = color.NRGBA{R: 0x0b, G: 0x0b, B: 0x0e, A: 0xff}
)

// studioTheme is Fyne's default theme, always dark (a studio is used
// beside bright video), with the studio's colours and square corners.
type studioTheme struct{ fyne.Theme }

func newStudioTheme() fyne.Theme { return studioTheme{theme.DefaultTheme()} }

func (t studioTheme) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	switch n {
	case theme.ColorNamePrimary, theme.ColorNameFocus, theme.ColorNameHyperlink:
		return colorAccent
	case theme.ColorNameBackground:
		return colorBackground
	case theme.ColorNameInputBackground, theme.ColorNameButton:
		return colorInput
	case theme.ColorNameMenuBackground, theme.ColorNameOverlayBackground, theme.ColorNameHeaderBackground:
		return colorPanel
	case theme.ColorNameDisabled, theme.ColorNamePlaceHolder:
		return colorMuted
	case theme.ColorNameError:
		return colorRec
	case theme.ColorNameSuccess:
		return colorOK
	case theme.ColorNameWarning:
		return colorWarn
	case theme.ColorNameSelection:
		return color.NRGBA{R: 0x8b, G: 0x6c, B: 0xff, A: 0x55}
	}
	return t.Theme.Color(n, theme.VariantDark)
}

// Size gives every rounded shape square corners. Fyne's GL driver draws a
// rounded rectangle with a per-pixel distance shader and a square one with
// a plain fill, and the window is repainted whole for each preview frame:
// under software GL (llvmpipe, 1280x800, about 11 paints a second with a
// preview) llvmpipe's threads took 0.142-0.147 core with rounded buttons,
// fields and selections, and 0.123 with square ones.
func (t studioTheme) Size(n fyne.ThemeSizeName) float32 {
	switch n {
	case theme.SizeNameInputRadius, theme.SizeNameSelectionRadius, theme.SizeNameScrollBarRadius:
		return 0
	}
	return t.Theme.Size(n)
}

package mediatest

// Slope is the least-squares slope of ys against xs (how much y grows per
// unit of x); 0 for fewer than two distinct xs.
func Slope(xs, ys []float64) float64 {
	n := float64(min(len(xs), len(ys)))
	if n < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for i := range int(n) {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / den
}

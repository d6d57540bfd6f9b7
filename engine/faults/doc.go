// Package faults holds the tests of a show that goes on through what goes
// wrong: the composite's browser killed or crashed mid-recording while the
// file and the stream run on. They have a package of their own for their
// time limit.
package faults

// Package network holds the tests of recording a LiveKit server off
// loopback, as producers meet one: by host name, behind firewalls that
// block UDP or more (ICE over TCP, TURN), over TLS, through a restart of
// the server. The server runs on a test host of engine/internal/testhost.
// The tests have a package of their own for their time limit.
package network

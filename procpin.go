package boomer

import _ "unsafe" // go:linkname

// procPin and procUnpin are the runtime's, which keeps them with this
// signature for packages outside the standard library. procPin returns the
// index of the P that runs the calling goroutine, from 0 to GOMAXPROCS-1,
// and keeps the goroutine on it until procUnpin.
//
//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()

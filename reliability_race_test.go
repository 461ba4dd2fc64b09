//go:build race

package chorus_test

// raceDetector is true when the tests run with -race; slow tests then do
// less by default.
const raceDetector = true

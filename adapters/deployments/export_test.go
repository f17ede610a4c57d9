package deployments

import "time"

// SetKeepAlive spaces tasks/result's SSE keep-alive comments by d until restore is called.
// Not for parallel tests.
func SetKeepAlive(d time.Duration) (restore func()) {
	old := keepAliveEvery
	keepAliveEvery = d
	return func() { keepAliveEvery = old }
}

//go:build !unix

package authz

import "time"

// processCPU is not measured here: admission then paces the queue by service time alone.
func processCPU() time.Duration { return 0 }

package deploy

import (
	"errors"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
)

func TestSendOutcome(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_START_TO_CLOSE, nil), ErrTypeDeployNotSent},
		{temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START, nil), ErrTypeDeployNotSent},
		{temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_START_TO_CLOSE, nil, sendMarker{Key: "k"}), ErrTypeDeployUnknown},
		{temporal.NewNonRetryableApplicationError("x", ErrTypeDeployNotSent, nil), ErrTypeDeployNotSent},
		{temporal.NewNonRetryableApplicationError("x", ErrTypeDeployRefused, nil), ErrTypeDeployRefused},
		{temporal.NewNonRetryableApplicationError("x", ErrTypeDeployUnknown, nil), ErrTypeDeployUnknown},
		{temporal.NewApplicationError("panic", "PanicError"), ErrTypeDeployUnknown},
		{errors.New("something else"), ErrTypeDeployUnknown},
	} {
		if got := sendOutcome(tc.err); got != tc.want {
			t.Errorf("%v → %s, want %s", tc.err, got, tc.want)
		}
	}
}

// CanonicalForTest exposes the hashed document.
var CanonicalForTest = Request.canonical

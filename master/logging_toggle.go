package master

import (
	"fmt"
	"net/http"

	"github.com/mezzo-project/mezzo/internal/flags"
	"github.com/mezzo-project/mezzo/internal/logging"
)

// loggingToggle serves /logging/toggle from v, refusing a negative
// duration with 400 (raising the verbosity for less than no time would
// answer 200 and change nothing). Other requests go to v's handler.
func loggingToggle(v *logging.Verbosity) http.Handler {
	next := v.ToggleHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Has("duration") && q.Has("level") {
			if d, err := flags.ParseDuration(q.Get("duration")); err == nil && d < 0 {
				http.Error(w, fmt.Sprintf("Invalid duration '%s': must not be negative.", q.Get("duration")), http.StatusBadRequest)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

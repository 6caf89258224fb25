package auth

import (
	"testing"

	"github.com/mezzo-project/mezzo/internal/fuzzing"
)

// TestMain keeps the fuzzer's minimization of new inputs short (package
// fuzzing), so that the fuzz targets' documents do not stop the fuzzing
// for a minute each.
func TestMain(m *testing.M) { fuzzing.Main(m) }

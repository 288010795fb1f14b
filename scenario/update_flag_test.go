package scenario

// No golden file here, but `go test ./... -update` passes the module's one
// -update flag to every test binary: importing internal/golden defines it.
import _ "github.com/cirkelline/infra/internal/golden"

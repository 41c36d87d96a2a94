// `floe storage ...`: checks of the object storage floe will use.
//
//   floe storage probe --bucket URI [--size BYTES] [--multipart-size BYTES] [--prefix P]
//
// probe runs put, ranged get, list, multipart put (with a ranged read across a part boundary)
// and delete of probe objects under a unique prefix, printing each step's latency. On the first
// failing step it prints the S3 error code, message and request id plus a hint (wrong region,
// unknown key, wrong secret, clock skew, missing bucket, policy, endpoint, TLS) and exits 1.
// Exit codes: 0 all steps passed, 1 a step failed, 2 usage or configuration error.
// Users run it before `floe serve` to validate credentials and endpoint.
#pragma once

namespace floe::admin {

// argv[0] is the word "storage" (cli.cc passes argc - 1, argv + 1); a leading program name is
// skipped too. Returns the process exit code.
int run_storage_command(int argc, char** argv);

}  // namespace floe::admin

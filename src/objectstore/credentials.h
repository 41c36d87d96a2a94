// Where S3 credentials and region come from, first match wins:
//   1. explicit values (the bucket URI's accessKey/secretKey/sessionToken, or config keys);
//   2. the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN;
//   3. the shared credentials file: $AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, profile
//      $AWS_PROFILE or "default" (aws_access_key_id, aws_secret_access_key, aws_session_token).
// Region: explicit, then AWS_REGION, then AWS_DEFAULT_REGION, then us-east-1.
// Thread safety: reads the environment and files; call at startup.
#pragma once

#include <string>

#include "common/result.h"
#include "objectstore/sigv4.h"

namespace floe::objectstore {

struct ResolvedCredentials {
  Credentials credentials;
  std::string source;  // "bucket URI", "environment", "~/.aws/credentials [profile]"
};

Result<ResolvedCredentials> resolve_credentials(const Credentials& explicit_credentials);
std::string resolve_region(const std::string& explicit_region);

// Parses an INI credentials file's text for one profile (exposed for tests).
Credentials parse_credentials_file(const std::string& text, const std::string& profile);

}  // namespace floe::objectstore

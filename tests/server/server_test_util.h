#pragma once

// Helpers for the server tests: a plain-socket HTTP GET for /metrics, a
// Prometheus text-format reader, shell commands (openssl, promtool), test
// certificates, and broken-model fixtures built from a good tiny model.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "model/manifest.h"
#include "model/npy.h"
#include "model/sha256.h"
#include "tests/service/test_models.h"

namespace rerank::testing {

// GET http://127.0.0.1:<port><path> over a plain socket (HTTP/1.0, so the
// server closes when done). Returns the body of a 200 response.
inline absl::StatusOr<std::string> HttpGet(
    int port, const std::string& path,
    absl::Duration timeout = absl::Seconds(10)) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return absl::UnavailableError(absl::StrCat("connect to port ", port));
  }
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
  if (write(fd, request.data(), request.size()) !=
      static_cast<ssize_t>(request.size())) {
    close(fd);
    return absl::UnavailableError("write");
  }
  std::string response;
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    pollfd pfd{fd, POLLIN, 0};
    if (ms <= 0 || poll(&pfd, 1, static_cast<int>(ms)) <= 0) {
      close(fd);
      return absl::DeadlineExceededError("no complete HTTP response");
    }
    char chunk[8192];
    const ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n <= 0) break;
    response.append(chunk, static_cast<size_t>(n));
  }
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  if (body == std::string::npos) {
    return absl::DataLossError(absl::StrCat("bad response: ", response));
  }
  const std::string status_line = response.substr(0, response.find("\r\n"));
  if (!absl::StrContains(status_line, " 200")) {
    return absl::FailedPreconditionError(status_line);
  }
  return response.substr(body + 4);
}

// The value of the sample `series` (name plus labels exactly as the text
// exposition spells them, e.g. `rerank_requests_total{code="OK",method=
// "Rerank"}`) in Prometheus text `text`, or nullopt if absent.
inline std::optional<double> MetricValue(const std::string& text,
                                         const std::string& series) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::StartsWith(line, series)) continue;
    absl::string_view rest = line.substr(series.size());
    if (rest.empty() || rest.front() != ' ') continue;
    double value = 0;
    if (absl::SimpleAtod(absl::StripAsciiWhitespace(rest), &value)) {
      return value;
    }
  }
  return std::nullopt;
}

// Runs `command` through /bin/sh; returns its exit status (-1 if it did not
// exit) with stdout+stderr in `*output`.
inline int RunShell(const std::string& command, std::string* output) {
  FILE* p = popen(absl::StrCat(command, " 2>&1").c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  size_t n;
  output->clear();
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) output->append(buf, n);
  const int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Whether `program` is on PATH.
inline bool OnPath(const std::string& program) {
  std::string out;
  return RunShell(absl::StrCat("command -v ", program), &out) == 0;
}

// Test PKI made with the openssl CLI in `dir`: a CA; a server certificate
// signed by it for 127.0.0.1 and localhost; a client certificate signed by
// it; and an unrelated CA with a client certificate of its own (which the
// server must not trust). EC P-256 keys: fast to generate. Valid for two
// days from now.
struct TestCerts {
  std::string ca;  // ca.pem
  std::string server_cert, server_key;
  std::string client_cert, client_key;
  std::string untrusted_ca;
  std::string untrusted_client_cert, untrusted_client_key;
};

inline absl::StatusOr<TestCerts> MakeTestCerts(const std::string& dir) {
  const std::string key =
      "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
      "-nodes";
  const std::string script = absl::StrCat(
      "set -e; cd '", dir, "'\n",
      "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n"
      "extendedKeyUsage=serverAuth\\n' > server.ext\n",
      "printf 'extendedKeyUsage=clientAuth\\n' > client.ext\n",
      // CA and the certificates it signs.
      "openssl req -x509 ", key,
      " -keyout ca.key -out ca.pem -days 2 -subj '/CN=rerank test CA'\n",
      "openssl req ", key,
      " -keyout server.key -out server.csr -subj '/CN=localhost'\n",
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key "
      "-CAcreateserial -out server.pem -days 2 -extfile server.ext\n",
      "openssl req ", key,
      " -keyout client.key -out client.csr -subj '/CN=rerank-client'\n",
      "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key "
      "-CAcreateserial -out client.pem -days 2 -extfile client.ext\n",
      // A second, untrusted CA with its own client.
      "openssl req -x509 ", key,
      " -keyout evil-ca.key -out evil-ca.pem -days 2 "
      "-subj '/CN=untrusted CA'\n",
      "openssl req ", key,
      " -keyout evil-client.key -out evil-client.csr "
      "-subj '/CN=rerank-client'\n",
      "openssl x509 -req -in evil-client.csr -CA evil-ca.pem "
      "-CAkey evil-ca.key -CAcreateserial -out evil-client.pem -days 2 "
      "-extfile client.ext\n");
  std::string output;
  if (RunShell(script, &output) != 0) {
    return absl::InternalError(absl::StrCat("openssl failed: ", output));
  }
  const std::string d = dir + "/";
  return TestCerts{d + "ca.pem",          d + "server.pem",
                   d + "server.key",      d + "client.pem",
                   d + "client.key",      d + "evil-ca.pem",
                   d + "evil-client.pem", d + "evil-client.key"};
}

inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// Replaces the file of manifest role `role` in model directory `dir` with
// `content` and updates the manifest's sha256 for it, so the loader gets
// past the checksum to the check under test.
inline void ReplaceModelFile(const std::string& dir, const std::string& role,
                             const std::string& content) {
  const std::string manifest_path = dir + "/" + kManifestFileName;
  absl::StatusOr<ModelManifest> manifest =
      ParseModelManifest(ReadWholeFile(manifest_path));
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  ManifestFile& file = manifest->files.at(role);
  WriteFile(dir + "/" + file.path, content);
  file.sha256 = Sha256Hex(content);
  WriteFile(manifest_path, SerializeModelManifest(*manifest));
}

// Broken copies of TinyModel under `root`, one directory per fault, named
// after it. Each is refused by Reload with the code listed.
struct BrokenModel {
  std::string dir;
  absl::StatusCode code;
};

inline std::vector<BrokenModel> WriteBrokenModels(const std::string& root) {
  std::vector<BrokenModel> broken;
  // Truncated: the last bytes of item_factors.npy cut off (checksum fixed).
  WriteTinyModel(root, "truncated", "model-truncated");
  {
    std::string npy = ReadWholeFile(root + "/truncated/item_factors.npy");
    npy.resize(npy.size() - 3);
    ReplaceModelFile(root + "/truncated", kItemFactorsRole, npy);
  }
  broken.push_back({"truncated", absl::StatusCode::kFailedPrecondition});
  // Corrupt: one flipped bit, manifest untouched.
  WriteTinyModel(root, "corrupt", "model-corrupt");
  {
    std::string npy = ReadWholeFile(root + "/corrupt/user_factors.npy");
    npy.back() ^= 0x40;
    WriteFile(root + "/corrupt/user_factors.npy", npy);
  }
  broken.push_back({"corrupt", absl::StatusCode::kDataLoss});
  // Missing: a file the manifest names is gone.
  WriteTinyModel(root, "missing_file", "model-missing");
  std::filesystem::remove(root + "/missing_file/neighbors_scores.npy");
  broken.push_back({"missing_file", absl::StatusCode::kNotFound});
  // No manifest at all.
  WriteTinyModel(root, "no_manifest", "model-no-manifest");
  std::filesystem::remove(root + "/no_manifest/manifest.json");
  broken.push_back({"no_manifest", absl::StatusCode::kNotFound});
  // Wrong dtype: item factors as float64 (checksum fixed).
  WriteTinyModel(root, "wrong_dtype", "model-wrong-dtype");
  {
    const ModelData data = TinyModel("x");
    std::vector<double> f64(data.item_factors.begin(), data.item_factors.end());
    absl::StatusOr<std::string> header = EncodeNpyHeader("<f8", {3, 2});
    EXPECT_TRUE(header.ok()) << header.status();
    ReplaceModelFile(
        root + "/wrong_dtype", kItemFactorsRole,
        *header + std::string(reinterpret_cast<const char*>(f64.data()),
                              f64.size() * sizeof(double)));
  }
  broken.push_back({"wrong_dtype", absl::StatusCode::kFailedPrecondition});
  return broken;
}

}  // namespace rerank::testing

#include "training/read_file.h"

#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace rerank {
namespace {

struct GzCloser {
  void operator()(gzFile f) const { gzclose(f); }
};

}  // namespace

absl::StatusOr<std::string> ReadFileContents(const std::string& path) {
  // fopen first: gzopen's error reporting for a missing file is poor.
  std::FILE* probe = std::fopen(path.c_str(), "rb");
  if (probe == nullptr) {
    const int err = errno;
    return absl::NotFoundError(
        absl::StrCat("cannot open ", path, ": ", std::strerror(err)));
  }
  std::fclose(probe);

  // zlib reads non-gzip files verbatim ("transparent" mode), which is what
  // gives us plain and compressed input through one code path.
  std::unique_ptr<gzFile_s, GzCloser> file(gzopen(path.c_str(), "rb"));
  if (file == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot open ", path));
  }
  gzbuffer(file.get(), 1 << 18);
  std::string contents;
  constexpr size_t kChunk = 1 << 20;
  while (true) {
    const size_t old_size = contents.size();
    contents.resize(old_size + kChunk);
    const int got = gzread(file.get(), contents.data() + old_size, kChunk);
    if (got < 0) {
      int errnum = 0;
      const char* msg = gzerror(file.get(), &errnum);
      return absl::DataLossError(
          absl::StrCat("cannot read ", path, ": ", msg ? msg : "zlib error"));
    }
    contents.resize(old_size + static_cast<size_t>(got));
    if (got == 0) break;
  }
  // A truncated .gz ends "successfully" with Z_BUF_ERROR set.
  int errnum = Z_OK;
  const char* msg = gzerror(file.get(), &errnum);
  if (errnum != Z_OK) {
    return absl::DataLossError(
        absl::StrCat("cannot read ", path, ": ", msg ? msg : "zlib error"));
  }
  return contents;
}

}  // namespace rerank

#include "model/npy.h"

#include <bit>
#include <cstring>
#include <map>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/file_util.h"

namespace rerank {

// Element bytes are handed out in place (mmap) and written from memory
// as-is, which is only correct on a little-endian host.
static_assert(std::endian::native == std::endian::little,
              "the model .npy code assumes a little-endian host");

namespace {

constexpr absl::string_view kMagic("\x93NUMPY", 6);
// numpy >= 1.14 aligns headers to 64 bytes (ARRAY_ALIGN) so that memory
// mapped data is aligned for any dtype.
constexpr int64_t kArrayAlign = 64;
// numpy (>= 1.24) pads headers with spaces so the first shape extent can grow
// to this many digits in place; reproduced so our files are byte-identical.
constexpr int64_t kGrowthAxisMaxDigits = 21;

absl::Status Bad(absl::string_view what) {
  return absl::FailedPreconditionError(what);
}

// One value of the header dict: a string, a bool or a tuple of ints.
struct HeaderValue {
  enum Kind { kString, kBool, kTuple } kind = kString;
  std::string str;
  bool boolean = false;
  std::vector<int64_t> ints;
};

// Recursive-descent parser for the tiny subset of Python literal syntax
// numpy (and Python 2 era writers) put in .npy headers.
class HeaderParser {
 public:
  HeaderParser(absl::string_view text, bool allow_long_suffix)
      : text_(text), allow_long_suffix_(allow_long_suffix) {}

  absl::StatusOr<std::map<std::string, HeaderValue>> ParseDict() {
    std::map<std::string, HeaderValue> dict;
    SkipSpace();
    if (!Consume('{')) return Error("header is not a Python dict literal");
    while (true) {
      SkipSpace();
      if (Consume('}')) break;
      absl::StatusOr<std::string> key = ParseString();
      if (!key.ok()) return key.status();
      SkipSpace();
      if (!Consume(':')) return Error("expected ':' after a key");
      SkipSpace();
      absl::StatusOr<HeaderValue> value = ParseValue(*key);
      if (!value.ok()) return value.status();
      if (!dict.emplace(*key, std::move(*value)).second) {
        return Bad(absl::StrCat("npy header: duplicate key '", *key, "'"));
      }
      SkipSpace();
      if (Consume(',')) continue;
      if (Consume('}')) break;
      return Error("expected ',' or '}'");
    }
    SkipSpace();
    if (pos_ != text_.size()) return Error("unexpected text after the dict");
    return dict;
  }

 private:
  absl::Status Error(absl::string_view what) const {
    // The header may be up to kMaxNpyHeaderBytes; quote only its start.
    constexpr size_t kQuoteBytes = 120;
    return Bad(absl::StrCat("npy header: ", what, " at offset ", pos_,
                            " of header \"",
                            absl::CHexEscape(text_.substr(0, kQuoteBytes)),
                            text_.size() > kQuoteBytes ? "...\"" : "\""));
  }
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }
  bool Consume(char c) {
    if (Peek() != c || AtEnd()) return false;
    ++pos_;
    return true;
  }
  bool ConsumeWord(absl::string_view w) {
    if (text_.substr(pos_, w.size()) != w) return false;
    pos_ += w.size();
    return true;
  }
  void SkipSpace() {
    while (!AtEnd() && (text_[pos_] == ' ' || text_[pos_] == '\n' ||
                        text_[pos_] == '\t' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  absl::StatusOr<std::string> ParseString() {
    char quote = Peek();
    if (quote != '\'' && quote != '"') return Error("expected a quoted string");
    ++pos_;
    size_t end = text_.find(quote, pos_);
    if (end == absl::string_view::npos) return Error("unterminated string");
    std::string s(text_.substr(pos_, end - pos_));
    // Simple descrs and our keys never need escapes; refusing them keeps the
    // parser from having to implement Python's escape rules.
    if (s.find('\\') != std::string::npos) {
      return Error("escape sequences are not supported");
    }
    pos_ = end + 1;
    return s;
  }

  absl::StatusOr<int64_t> ParseInt() {
    size_t start = pos_;
    int64_t v = 0;
    while (!AtEnd() &&
           absl::ascii_isdigit(static_cast<unsigned char>(Peek()))) {
      if (__builtin_mul_overflow(v, 10, &v) ||
          __builtin_add_overflow(v, Peek() - '0', &v)) {
        return Error("shape extent overflows int64");
      }
      ++pos_;
    }
    if (pos_ == start) return Error("expected a non-negative integer");
    // Python 2 numpy wrote longs as "3L"; numpy itself still strips them.
    if (allow_long_suffix_) Consume('L');
    return v;
  }

  absl::StatusOr<HeaderValue> ParseValue(absl::string_view key) {
    HeaderValue v;
    char c = Peek();
    if (c == '\'' || c == '"') {
      absl::StatusOr<std::string> s = ParseString();
      if (!s.ok()) return s.status();
      v.kind = HeaderValue::kString;
      v.str = std::move(*s);
      return v;
    }
    if (ConsumeWord("True")) {
      v.kind = HeaderValue::kBool;
      v.boolean = true;
      return v;
    }
    if (ConsumeWord("False")) {
      v.kind = HeaderValue::kBool;
      v.boolean = false;
      return v;
    }
    if (c == '[') {
      return Bad(absl::StrCat("npy header: '", key,
                              "' is a list; structured dtypes are not "
                              "supported"));
    }
    if (Consume('(')) {
      v.kind = HeaderValue::kTuple;
      SkipSpace();
      if (Consume(')')) return v;
      bool comma = false;
      while (true) {
        SkipSpace();
        absl::StatusOr<int64_t> n = ParseInt();
        if (!n.ok()) return n.status();
        v.ints.push_back(*n);
        SkipSpace();
        if (Consume(')')) break;
        if (!Consume(',')) return Error("expected ',' or ')' in a tuple");
        comma = true;
        SkipSpace();
        if (Consume(')')) break;
      }
      // Python needs a comma for a 1-tuple: "(5)" is the int 5, which numpy
      // refuses as a shape; so do we.
      if (!comma) return Error("'shape' is not a tuple (missing comma)");
      return v;
    }
    return Error(absl::StrCat("unsupported value for '", key, "'"));
  }

  absl::string_view text_;
  bool allow_long_suffix_;
  size_t pos_ = 0;
};

// Element size of a simple descr such as "<f4" or "|u1"; 0 if unsupported.
int64_t ItemSize(absl::string_view descr) {
  if (descr.size() < 3) return 0;
  if (std::strchr("<>|=", descr[0]) == nullptr) return 0;
  if (std::strchr("biufc", descr[1]) == nullptr) return 0;
  int64_t n = 0;
  for (char c : descr.substr(2)) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return 0;
    n = n * 10 + (c - '0');
    if (n > 32) return 0;
  }
  return n;
}

uint32_t ReadLittleEndian(absl::string_view bytes) {
  uint32_t v = 0;
  for (size_t i = bytes.size(); i-- > 0;) {
    v = (v << 8) | static_cast<unsigned char>(bytes[i]);
  }
  return v;
}

}  // namespace

int64_t NpyHeader::num_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string NpyShapeString(absl::Span<const int64_t> shape) {
  if (shape.size() == 1) return absl::StrCat("(", shape[0], ",)");
  return absl::StrCat("(", absl::StrJoin(shape, ", "), ")");
}

absl::string_view NpyDtypeName(absl::string_view descr) {
  if (descr.size() < 2) return "";
  absl::string_view t = descr.substr(1);
  if (t == "f2") return "float16";
  if (t == "f4") return "float32";
  if (t == "f8") return "float64";
  if (t == "i1") return "int8";
  if (t == "i2") return "int16";
  if (t == "i4") return "int32";
  if (t == "i8") return "int64";
  if (t == "u1") return "uint8";
  if (t == "u2") return "uint16";
  if (t == "u4") return "uint32";
  if (t == "u8") return "uint64";
  if (t == "b1") return "bool";
  return "";
}

absl::StatusOr<NpyHeader> ParseNpyHeader(absl::string_view file) {
  if (file.size() < kMagic.size() + 2 ||
      file.substr(0, kMagic.size()) != kMagic) {
    return Bad("not a .npy file (missing \\x93NUMPY magic)");
  }
  NpyHeader h;
  h.major_version = static_cast<unsigned char>(file[6]);
  h.minor_version = static_cast<unsigned char>(file[7]);
  int64_t len_bytes = 0;
  if (h.major_version == 1 && h.minor_version == 0) {
    len_bytes = 2;
  } else if ((h.major_version == 2 || h.major_version == 3) &&
             h.minor_version == 0) {
    len_bytes = 4;
  } else {
    return Bad(absl::StrCat("unsupported .npy format version ", h.major_version,
                            ".", h.minor_version,
                            " (supported: 1.0, 2.0, 3.0)"));
  }
  const int64_t prefix = 8 + len_bytes;
  if (static_cast<int64_t>(file.size()) < prefix) {
    return Bad("truncated .npy header");
  }
  const int64_t header_len = ReadLittleEndian(file.substr(8, len_bytes));
  if (header_len > kMaxNpyHeaderBytes) {
    return Bad(absl::StrCat(".npy header length ", header_len,
                            " exceeds the limit of ", kMaxNpyHeaderBytes));
  }
  if (static_cast<int64_t>(file.size()) < prefix + header_len) {
    return Bad(absl::StrCat("truncated .npy header: header length is ",
                            header_len, " but the file has only ",
                            static_cast<int64_t>(file.size()) - prefix,
                            " bytes after the preamble"));
  }
  h.data_offset = prefix + header_len;
  // Versions 1.0 and 2.0 may come from Python 2 writers ("3L").
  HeaderParser parser(file.substr(prefix, header_len),
                      /*allow_long_suffix=*/h.major_version < 3);
  absl::StatusOr<std::map<std::string, HeaderValue>> dict = parser.ParseDict();
  if (!dict.ok()) return dict.status();
  if (dict->size() != 3 || !dict->contains("descr") ||
      !dict->contains("fortran_order") || !dict->contains("shape")) {
    std::vector<std::string> keys;
    for (const auto& [k, v] : *dict) keys.push_back(absl::StrCat("'", k, "'"));
    return Bad(
        absl::StrCat("npy header keys are [", absl::StrJoin(keys, ", "),
                     "], expected exactly 'descr', 'fortran_order', 'shape'"));
  }
  const HeaderValue& descr = dict->at("descr");
  const HeaderValue& fortran = dict->at("fortran_order");
  const HeaderValue& shape = dict->at("shape");
  if (descr.kind != HeaderValue::kString) {
    return Bad("npy header: 'descr' is not a string");
  }
  if (fortran.kind != HeaderValue::kBool) {
    return Bad("npy header: 'fortran_order' is not True or False");
  }
  if (shape.kind != HeaderValue::kTuple) {
    return Bad("npy header: 'shape' is not a tuple of integers");
  }
  h.descr = descr.str;
  h.fortran_order = fortran.boolean;
  h.shape = shape.ints;
  h.item_size = ItemSize(h.descr);
  if (h.item_size == 0) {
    return Bad(absl::StrCat("unsupported dtype descr '", h.descr, "'"));
  }
  int64_t n = h.item_size;
  for (int64_t d : h.shape) {
    if (__builtin_mul_overflow(n, d, &n)) {
      return Bad(
          absl::StrCat("shape ", NpyShapeString(h.shape), " is too large"));
    }
  }
  return h;
}

absl::StatusOr<NpyArray> CheckNpyArray(absl::string_view file,
                                       absl::string_view expected_descr,
                                       absl::Span<const int64_t> expected_shape,
                                       absl::string_view shape_source) {
  absl::StatusOr<NpyHeader> parsed = ParseNpyHeader(file);
  if (!parsed.ok()) return parsed.status();
  NpyHeader& h = *parsed;
  if (h.descr != expected_descr) {
    std::string want = absl::StrCat("'", expected_descr, "'");
    absl::string_view want_name = NpyDtypeName(expected_descr);
    if (!want_name.empty()) absl::StrAppend(&want, " (", want_name, ")");
    if (h.descr.substr(1) == expected_descr.substr(1) && h.descr[0] == '>') {
      return Bad(absl::StrCat(
          "dtype is '", h.descr, "' (big-endian), expected little-endian ",
          want, "; convert with arr.astype('", expected_descr, "')"));
    }
    return Bad(absl::StrCat("dtype is '", h.descr, "', expected ", want));
  }
  if (h.fortran_order) {
    return Bad(
        "fortran_order is True, expected C order; save "
        "np.ascontiguousarray(arr)");
  }
  bool shape_ok = h.shape.size() == expected_shape.size();
  for (size_t i = 0; shape_ok && i < h.shape.size(); ++i) {
    if (expected_shape[i] >= 0 && expected_shape[i] != h.shape[i]) {
      shape_ok = false;
    }
  }
  if (!shape_ok) {
    std::vector<std::string> want;
    for (int64_t d : expected_shape) {
      want.push_back(d < 0 ? std::string("any") : absl::StrCat(d));
    }
    std::string want_str =
        want.size() == 1 ? absl::StrCat("(", want[0], ",)")
                         : absl::StrCat("(", absl::StrJoin(want, ", "), ")");
    std::vector<std::string> notes;
    if (h.shape.size() != expected_shape.size()) {
      notes.push_back(absl::StrCat(h.shape.size(), "-D, expected ",
                                   expected_shape.size(), "-D"));
    }
    if (!shape_source.empty()) notes.emplace_back(shape_source);
    return Bad(absl::StrCat(
        "shape is ", NpyShapeString(h.shape), ", expected ", want_str,
        notes.empty() ? ""
                      : absl::StrCat(" (", absl::StrJoin(notes, "; "), ")")));
  }
  const int64_t have = static_cast<int64_t>(file.size()) - h.data_offset;
  const int64_t want_bytes = h.data_bytes();
  if (have < want_bytes) {
    return Bad(absl::StrCat("truncated: shape ", NpyShapeString(h.shape),
                            " of '", h.descr, "' needs ", want_bytes,
                            " data bytes, the file has ", have));
  }
  if (have > want_bytes) {
    return Bad(absl::StrCat(have - want_bytes,
                            " trailing bytes after the array data (shape ",
                            NpyShapeString(h.shape), " of '", h.descr,
                            "' needs ", want_bytes, ")"));
  }
  // Mappings start page-aligned, so the data is aligned iff its offset is.
  // numpy always aligns to 16 or 64 bytes; only hand-made files fail this.
  if (h.data_offset % h.item_size != 0) {
    return Bad(absl::StrCat("array data starts at byte ", h.data_offset,
                            ", not a multiple of the element size ",
                            h.item_size, "; rewrite the file with numpy.save"));
  }
  NpyArray out;
  out.data = file.data() + h.data_offset;
  out.header = std::move(h);
  return out;
}

absl::StatusOr<std::string> EncodeNpyHeader(absl::string_view descr,
                                            absl::Span<const int64_t> shape) {
  for (int64_t d : shape) {
    if (d < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("negative extent in shape ", NpyShapeString(shape)));
    }
  }
  // Keys in sorted order, each "'key': repr(value), ", exactly as numpy's
  // _write_array_header builds them.
  std::string dict = absl::StrCat(
      "{'descr': '", descr,
      "', 'fortran_order': False, 'shape': ", NpyShapeString(shape), ", }");
  if (!shape.empty()) {
    const int64_t digits = static_cast<int64_t>(absl::StrCat(shape[0]).size());
    dict.append(static_cast<size_t>(kGrowthAxisMaxDigits - digits), ' ');
  }
  // magic (6) + version (2) + uint16 length (2) + dict + padding + '\n'.
  const int64_t hlen = static_cast<int64_t>(dict.size()) + 1;
  const int64_t pad = kArrayAlign - ((10 + hlen) % kArrayAlign);
  const int64_t total_len = hlen + pad;
  if (total_len > 0xFFFF) {
    return absl::InvalidArgumentError("npy header too long for format 1.0");
  }
  std::string out(kMagic);
  out.push_back('\x01');
  out.push_back('\x00');
  out.push_back(static_cast<char>(total_len & 0xFF));
  out.push_back(static_cast<char>((total_len >> 8) & 0xFF));
  out.append(dict);
  out.append(static_cast<size_t>(pad), ' ');
  out.push_back('\n');
  return out;
}

absl::Status WriteNpyBytes(const std::string& path, absl::string_view descr,
                           absl::Span<const int64_t> shape,
                           absl::string_view data) {
  const int64_t item = ItemSize(descr);
  if (item == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": unsupported descr '", descr, "'"));
  }
  int64_t want = item;
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(want, d, &want)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": invalid shape ", NpyShapeString(shape)));
    }
  }
  if (want != static_cast<int64_t>(data.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": ", data.size(), " data bytes for shape ",
        NpyShapeString(shape), " of '", descr, "', expected ", want));
  }
  absl::StatusOr<std::string> header = EncodeNpyHeader(descr, shape);
  if (!header.ok()) return PrefixStatus(header.status(), path);
  const absl::string_view pieces[] = {*header, data};
  return WriteFileAtomically(path, pieces);
}

}  // namespace rerank

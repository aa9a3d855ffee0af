// Internal: text from untrusted files made fit for one-line error messages (the safetensors
// reader's names and metadata, tensor_file's tensor names).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace verinit::io::text {

/// The length of the UTF-8 sequence at the start of `text` (RFC 3629), or 0 if it is not one.
std::size_t utf8_sequence_length(std::string_view text);

/// `text` with control bytes, DEL and bytes that are not UTF-8 escaped as \xHH, cut after
/// about `max_shown` bytes ("..." then).
std::string printable(std::string_view text, std::size_t max_shown);

}  // namespace verinit::io::text

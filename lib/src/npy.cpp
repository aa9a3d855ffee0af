// .npy writer (format version 1.0; numpy/lib/format.py documents the layout).
#include "verinit/npy.hpp"

#include <bit>
#include <cstdio>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>

#include "verinit/detail/check.hpp"
#include "verinit/shape.hpp"

namespace verinit {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the .npy writer assumes a little-endian host");

std::string header_for(std::string_view descr, std::span<const std::int64_t> shape) {
  std::string dict = "{'descr': '" + std::string(descr) + "', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    dict += std::to_string(shape[i]);
    if (shape.size() == 1 || i + 1 < shape.size()) dict += shape.size() == 1 ? "," : ", ";
  }
  dict += "), }";
  // Magic (6) + version (2) + length (2) + dict + padding + '\n' is a multiple of 64, which
  // keeps the data aligned as numpy's own writer does.
  const std::size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  return dict;
}

template <class T>
void write(const std::filesystem::path& path, std::span<const T> data,
           std::span<const std::int64_t> shape, std::string_view descr) {
  if (static_cast<std::int64_t>(data.size()) != element_count(shape))
    detail::throw_invalid("write_npy", "data size", std::to_string(data.size()),
                          "the element count of shape " + to_string(shape));
  const std::string header = header_for(descr, shape);
  if (header.size() > 65535)
    detail::throw_invalid("write_npy", "shape", to_string(shape), "short enough for a v1.0 header");
  std::filesystem::path temporary = path;
  temporary += ".tmp" + std::to_string(std::random_device{}());
  {
    std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
    if (!file)
      throw std::runtime_error("cannot write '" + path.string() + "': cannot create the file");
    const unsigned char preamble[10] = {0x93,
                                        'N',
                                        'U',
                                        'M',
                                        'P',
                                        'Y',
                                        1,
                                        0,
                                        static_cast<unsigned char>(header.size() & 0xff),
                                        static_cast<unsigned char>(header.size() >> 8)};
    file.write(reinterpret_cast<const char*>(preamble), sizeof preamble);
    file.write(header.data(), static_cast<std::streamsize>(header.size()));
    file.write(reinterpret_cast<const char*>(data.data()),
               static_cast<std::streamsize>(data.size_bytes()));
    file.close();
    if (!file) {
      std::error_code ignored;
      std::filesystem::remove(temporary, ignored);
      throw std::runtime_error("cannot write '" + path.string() + "': write failed (disk full?)");
    }
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    std::filesystem::remove(temporary, error);
    throw std::runtime_error("cannot write '" + path.string() + "': cannot rename into place");
  }
}

}  // namespace

void write_npy(const std::filesystem::path& path, std::span<const float> data,
               std::span<const std::int64_t> shape) {
  write(path, data, shape, "<f4");
}

void write_npy(const std::filesystem::path& path, std::span<const double> data,
               std::span<const std::int64_t> shape) {
  write(path, data, shape, "<f8");
}

}  // namespace verinit

// verinit._verinit: the C++ library's entry points for the Python package (verinit/*.py wraps
// them; users never import this module directly).
//
// Arrays cross as Python buffers (numpy arrays, torch CPU tensors' .numpy() views), never
// copied: fill() writes into the caller's memory and verify_cases() reads it. The GIL is
// released during every fill and every run. Errors: std::invalid_argument becomes ValueError
// (pybind11's rule), std::runtime_error (the library's I/O and file-format errors) OSError,
// std::bad_alloc MemoryError; each with the library's one-line message.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "verinit/fill.hpp"
#include "verinit/io/checkpoint.hpp"
#include "verinit/io/tensor_file.hpp"
#include "verinit/reports/json.hpp"
#include "verinit/reports/report.hpp"
#include "verinit/scheme.hpp"
#include "verinit/verify/distributed.hpp"
#include "verinit/verify/identify.hpp"
#include "verinit/verify/model.hpp"
#include "verinit/verify/runner.hpp"
#include "verinit/version.hpp"

namespace py = pybind11;

namespace verinit::python {
namespace {

[[noreturn]] void bad(const std::string& what) { throw std::invalid_argument(what); }

/// A buffer's dtype: float16 ('e'), float32 ('f'), float64 ('d'); 16-bit integers ('H', 'h')
/// hold bit patterns and need `requested` to say which. A non-empty `requested` must agree.
dtype dtype_of(const py::buffer_info& info, const std::string& requested, const char* who) {
  std::string format = info.format;
  if (!format.empty() && (format[0] == '<' || format[0] == '=' || format[0] == '@'))
    format.erase(0, 1);
  if (!format.empty() && (format[0] == '>' || format[0] == '!'))
    bad(std::string(who) + ": the array is big-endian ('" + info.format +
        "'), but must be in native byte order (use .astype(its dtype.newbyteorder('=')))");
  std::optional<dtype> type;
  if (format == "e" && info.itemsize == 2) type = dtype::float16;
  if (format == "f" && info.itemsize == 4) type = dtype::float32;
  if (format == "d" && info.itemsize == 8) type = dtype::float64;
  const bool bits = (format == "H" || format == "h") && info.itemsize == 2;
  if (bits) {
    if (requested.empty())
      bad(std::string(who) + ": the array holds 16-bit integers, but bit patterns need " +
          "dtype='bfloat16' or dtype='float16' to say which");
    const dtype wanted = parse_dtype(requested);
    if (verinit::info(wanted).size != 2)
      bad(std::string(who) + ": dtype is '" + requested +
          "' for an array of 16-bit integers, but must be 'bfloat16' or 'float16'");
    return wanted;
  }
  if (!type)
    bad(std::string(who) + ": the array's element format is '" + info.format +
        "', but must be float16, float32 or float64 (or uint16 bit patterns with "
        "dtype='bfloat16')");
  if (!requested.empty() && parse_dtype(requested) != *type)
    bad(std::string(who) + ": dtype is '" + requested + "', but the array holds " +
        std::string(to_string(*type)));
  return *type;
}

/// The buffer's shape; throws unless it is C-contiguous.
tensor_shape c_contiguous_shape(const py::buffer_info& info, const char* who) {
  tensor_shape shape(info.shape.begin(), info.shape.end());
  py::ssize_t stride = info.itemsize;
  for (std::size_t k = shape.size(); k-- > 0;) {
    if (shape[k] > 1 && info.strides[k] != stride)
      bad(std::string(who) +
          ": the array is not C-contiguous, but must be (use numpy.ascontiguousarray, or "
          "tensor.contiguous())");
    stride *= static_cast<py::ssize_t>(shape[k]);
  }
  return shape;
}

std::span<const std::byte> bytes_of(const py::buffer_info& info) {
  return {static_cast<const std::byte*>(info.ptr),
          static_cast<std::size_t>(info.size * info.itemsize)};
}

void fill_buffer(const py::buffer& out, const std::string& type_name, const std::string& spec,
                 const std::optional<tensor_shape>& fans_shape, const std::string& layout_name,
                 std::uint64_t seed, int threads) {
  py::buffer_info info;
  try {
    info = out.request(/*writable=*/true);
  } catch (const py::error_already_set&) {
    bad("fill_: the array is read-only, but must be writable");
  }
  const dtype type = dtype_of(info, type_name, "fill_");
  const tensor_shape shape = c_contiguous_shape(info, "fill_");
  const scheme s = parse_scheme(spec);
  fill_options options;
  options.layout = parse_layout(layout_name);
  options.seed = seed;
  options.threads = threads;
  if (fans_shape) options.explicit_fans = compute_fans(*fans_shape, options.layout);
  const mutable_tensor_view view{
      type,
      shape,
      {static_cast<std::byte*>(info.ptr), static_cast<std::size_t>(info.size * info.itemsize)}};
  py::gil_scoped_release release;
  fill(view, s, options);
}

/// A verification run's result, as the Python Result wraps it.
struct run_handle {
  verify::run_result result;
};

verify::run_request request_with(std::uint64_t seed, double alpha, int threads,
                                 std::int64_t memory_bytes, bool summaries) {
  verify::run_request request;
  request.options.seed = seed;
  request.options.alpha = alpha;
  request.options.threads = threads;
  request.options.memory_bytes = memory_bytes;
  request.options.summaries = summaries;
  verify::check_options(request.options);
  return request;
}

/// The elements of `data`: a TensorFile's view, or a buffer's (its buffer_info kept in `held`,
/// released after the run, with the GIL); `bits` names the dtype of 16-bit bit patterns.
tensor_view view_of_data(const py::object& data, const std::string& bits, const char* who,
                         std::vector<py::buffer_info>& held) {
  if (py::isinstance<io::tensor_file>(data)) return data.cast<const io::tensor_file&>().view();
  held.push_back(data.cast<py::buffer>().request());
  const py::buffer_info& info = held.back();
  return {dtype_of(info, bits, who), c_contiguous_shape(info, who), bytes_of(info)};
}

run_handle run_without_gil(const verify::run_request& request) {
  run_handle out;
  py::gil_scoped_release release;
  out.result = verify::run(request);
  verify::add_identification(out.result, request);
  return out;
}

/// Cases of samples (dicts: data (a buffer or a TensorFile), dtype (of bit patterns, or ""),
/// expect, shape (None: the data's), layout, source) as one run.
run_handle verify_cases(const py::list& cases, std::uint64_t seed, double alpha, int threads,
                        std::int64_t memory_bytes, bool summaries) {
  verify::run_request request = request_with(seed, alpha, threads, memory_bytes, summaries);
  std::vector<py::buffer_info> held;
  held.reserve(cases.size());  // views point into the buffer_infos' buffers, not at them
  for (const py::handle item : cases) {
    const auto c = item.cast<py::dict>();
    const tensor_view view =
        view_of_data(c["data"], c["dtype"].cast<std::string>(), "verify", held);
    const py::object shape = c["shape"];
    verify::case_request r;
    r.spec = verify::case_spec::of(c["expect"].cast<std::string>(),
                                   shape.is_none() ? view.shape : shape.cast<tensor_shape>(),
                                   parse_layout(c["layout"].cast<std::string>()), view.type);
    r.samples = view;
    r.source = c["source"].cast<std::string>();
    request.cases.push_back(std::move(r));
  }
  return run_without_gil(request);
}

py::dict rule_dict(const verify::tensor_rule& r) {
  py::dict d;
  d["match"] = r.match;
  if (r.skip) d["skip"] = true;
  if (!r.expect.empty()) d["expect"] = r.expect;
  if (!r.fans_from.empty()) d["fans_from"] = r.fans_from;
  if (r.fan_in > 0) {
    d["fan_in"] = r.fan_in;
    d["fan_out"] = r.fan_out;
  }
  if (r.tensor_layout) d["layout"] = std::string(to_string(*r.tensor_layout));
  if (!r.zero_rows.empty()) d["zero_rows"] = r.zero_rows;
  return d;
}

/// A model tensor of the dicts the Python side passes (name, data: a buffer, a TensorFile or
/// None for a non-float tensor, dtype: bit patterns' dtype or "", dtype_name, shape, storage:
/// an int, 0: own); the data's buffer_info kept in `held`.
verify::model_tensor model_tensor_of(const py::dict& c, std::vector<py::buffer_info>& held) {
  verify::model_tensor t;
  t.name = c["name"].cast<std::string>();
  t.dtype_name = c["dtype_name"].cast<std::string>();
  t.shape = c["shape"].cast<tensor_shape>();
  t.storage = reinterpret_cast<const void*>(c["storage"].cast<std::uintptr_t>());
  const py::object data = c["data"];
  if (!data.is_none())
    t.values = view_of_data(data, c["dtype"].cast<std::string>(), "verify_model", held);
  return t;
}

/// A model's tensors (dicts: name, data (a buffer, a TensorFile or None for a non-float
/// tensor), dtype (bit patterns' dtype or ""), dtype_name, shape, storage (an int, 0: own)),
/// planned by the rules and run as one verification.
run_handle verify_model_cases(const py::list& items, const verify::model_rules& rules,
                              const std::string& layout_name, const std::string& source,
                              std::uint64_t seed, double alpha, int threads,
                              std::int64_t memory_bytes, bool summaries) {
  verify::run_request request = request_with(seed, alpha, threads, memory_bytes, summaries);
  std::vector<py::buffer_info> held;
  held.reserve(items.size());
  std::vector<verify::model_tensor> tensors;
  for (const py::handle item : items)
    tensors.push_back(model_tensor_of(item.cast<py::dict>(), held));
  const verify::model_plan plan =
      verify::plan_model(tensors, rules, parse_layout(layout_name), source);
  verify::add_plan(request, plan);
  return run_without_gil(request);
}

/// A checkpoint verified whole as `verinit verify --input PATH --rules R` does it: its tensors
/// mapped where they can be read in place, copies (inflated, byte-swapped) kept in memory
/// within half of `memory_bytes` and the rest spilled to an unlinked temporary file
/// (io::checkpoint_views), all held through the run.
run_handle verify_model_path(const std::filesystem::path& path, const verify::model_rules& rules,
                             const std::string& layout_name, const std::string& source,
                             std::uint64_t seed, double alpha, int threads,
                             std::int64_t memory_bytes, bool summaries, const std::string& key) {
  verify::run_request request = request_with(seed, alpha, threads, memory_bytes, summaries);
  const io::checkpoint checkpoint = io::checkpoint::open(path, {key});
  if (checkpoint.tensors().empty())
    throw std::invalid_argument("verify_model: the source holds no tensors");
  std::optional<io::checkpoint_views> views;
  {
    py::gil_scoped_release release;  // inflating a deflated .npz can take seconds
    views.emplace(checkpoint, memory_bytes / 2);
  }
  std::vector<verify::model_tensor> tensors;
  for (std::size_t i = 0; i < checkpoint.tensors().size(); ++i) {
    const auto& e = checkpoint.tensors()[i];
    tensors.push_back({e.name, e.dtype_name, e.shape, (*views)[i], e.storage, e.withheld});
  }
  verify::model_plan plan = verify::plan_model(tensors, rules, parse_layout(layout_name), source);
  plan.notes.insert(plan.notes.end(), checkpoint.notes().begin(), checkpoint.notes().end());
  verify::add_plan(request, plan);
  return run_without_gil(request);
}

/// A process's tensors of a model held in parts (dicts as verify_model_cases takes, with the
/// whole tensor's `shape`, and part (bool), offset, piece_shape, replica (bool), where), planned
/// by the rules and each case reduced where it is (verify::reduce_part). A dict of parts (the
/// bytes), and the plan's unmatched, skipped, tied and notes.
py::dict reduce_parts(const py::list& items, const verify::model_rules& rules,
                      const std::string& layout_name, const std::string& source, int threads) {
  std::vector<py::buffer_info> held;
  held.reserve(items.size());
  std::vector<verify::model_tensor> tensors;
  // Each item's place, in the items' order (a process may hold several parts of a tensor).
  std::vector<verify::part_place> places;
  std::map<std::string, bool> whole_seen;
  for (const py::handle item : items) {
    const auto c = item.cast<py::dict>();
    verify::model_tensor t = model_tensor_of(c, held);
    t.part = c["part"].cast<bool>();
    verify::part_place place;
    place.where = c["where"].cast<std::string>();
    place.offset = c["offset"].cast<std::vector<std::int64_t>>();
    if (t.part) place.piece_shape = c["piece_shape"].cast<tensor_shape>();
    place.replica = c["replica"].cast<bool>();
    if (!t.part && whole_seen[t.name])
      throw std::invalid_argument("verify_model: tensor '" + t.name +
                                  "' given twice by one process, not as parts");
    whole_seen[t.name] = !t.part;
    places.push_back(place);
    tensors.push_back(std::move(t));
  }
  const verify::model_plan plan =
      verify::plan_model(tensors, rules, parse_layout(layout_name), source);
  std::vector<std::vector<std::byte>> parts;
  {
    py::gil_scoped_release release;
    // The plan's cases come in the tensors' order, one per tensor verified, or those of a
    // zero_rows or blocks rule named "<tensor>[...]" (rows, blocks), its own name last if at all:
    // each case is the next item of its name (a name may hold '[' itself).
    std::size_t next = 0;
    const auto derived = [&](const std::string& name, std::size_t i) {
      const std::string& base = tensors[i].name;
      return name.size() > base.size() && name.compare(0, base.size(), base) == 0 &&
             name[base.size()] == '[';
    };
    for (const verify::case_request& c : plan.cases) {
      while (next < tensors.size() && tensors[next].name != c.tensor && !derived(c.tensor, next))
        ++next;
      if (next == tensors.size())
        throw std::logic_error("reduce_parts: case '" + c.tensor + "' of no tensor");
      verify::part_place place = places[next];
      if (tensors[next].name == c.tensor) ++next;
      if (place.piece_shape.empty()) {  // a whole tensor (or a case of its rows or blocks)
        // One part of its own shape; where the law's shape is another tensor's (a bias with
        // fans_from, a scalar), of the law's shape, holding the tensor's elements.
        const tensor_shape& own = c.samples->shape;
        bool fits = own.size() == c.spec.shape.size();
        for (std::size_t d = 0; fits && d < own.size(); ++d) fits = own[d] <= c.spec.shape[d];
        place.piece_shape = fits ? own : c.spec.shape;
        place.offset.assign(c.spec.shape.size(), 0);
        place.whole = c.samples->size();
      }
      parts.push_back(verify::reduce_part(c, place, threads));
    }
  }
  py::dict out;
  py::list bytes;
  for (const auto& p : parts)
    bytes.append(py::bytes(reinterpret_cast<const char*>(p.data()), p.size()));
  out["parts"] = bytes;
  out["unmatched"] = plan.unmatched;
  out["skipped"] = plan.skipped;
  out["tied"] = plan.tied;
  out["notes"] = plan.notes;
  return out;
}

/// The run of the parts every process reduced (any order), with the processes' lists.
run_handle run_parts(const py::list& parts, const std::vector<std::string>& unmatched,
                     const std::vector<std::string>& skipped,
                     const std::vector<std::pair<std::string, std::string>>& tied,
                     const std::vector<std::string>& notes, std::uint64_t seed, double alpha,
                     int threads) {
  std::vector<std::vector<std::byte>> bytes;
  for (const py::handle p : parts) {
    const std::string b = p.cast<std::string>();
    const auto* data = reinterpret_cast<const std::byte*>(b.data());
    bytes.emplace_back(data, data + b.size());
  }
  verify::run_request request = request_with(seed, alpha, threads, std::int64_t{2} << 30, false);
  run_handle out;
  py::gil_scoped_release release;
  verify::parts_plan plan = verify::cases_of_parts(bytes);
  request.cases = std::move(plan.cases);
  request.unmatched = unmatched;
  request.skipped = skipped;
  request.skipped.insert(request.skipped.end(), plan.skipped.begin(), plan.skipped.end());
  request.tied = tied;
  request.notes = notes;
  request.notes.insert(request.notes.end(), plan.notes.begin(), plan.notes.end());
  out.result = verify::run(request);
  return out;
}

}  // namespace
}  // namespace verinit::python

PYBIND11_MODULE(_verinit, m) {
  using namespace verinit;
  using namespace verinit::python;
  m.doc() = "verinit's C++ core (use the verinit package, not this module)";
  m.attr("__version__") = std::string(version);

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const py::builtin_exception& e) {
      e.set_error();  // pybind11's own (cast and type errors): derived from runtime_error too
    } catch (const std::runtime_error& e) {
      PyErr_SetString(PyExc_OSError, e.what());
    }
  });

  m.def("fill", &fill_buffer, py::arg("out"), py::arg("dtype"), py::arg("scheme"),
        py::arg("fans_shape"), py::arg("layout"), py::arg("seed"), py::arg("threads"),
        "Fills a writable C-contiguous buffer in place (GIL released); the fans from "
        "fans_shape when given, else from the buffer's shape.");
  m.def(
      "list_tensors",
      [](const std::filesystem::path& path, const std::string& key) {
        py::list out;
        const auto file = io::checkpoint::open(path, {key});
        for (const auto& e : file.tensors()) {
          py::object tied = py::none();
          if (e.storage != nullptr && e.storage != &e)
            tied = py::str(static_cast<const io::checkpoint_entry*>(e.storage)->name);
          out.append(py::dict(py::arg("name") = e.name, py::arg("dtype") = e.dtype_name,
                              py::arg("shape") = e.shape, py::arg("bytes") = e.bytes,
                              py::arg("weight") = e.type.has_value() && e.withheld.empty(),
                              py::arg("tied_to") = tied,
                              py::arg("withheld") = e.withheld.empty() ? py::object(py::none())
                                                                       : py::str(e.withheld)));
        }
        return py::make_tuple(
            out, py::cast(std::vector<std::string>(file.notes().begin(), file.notes().end())));
      },
      py::arg("path"), py::arg("key") = "",
      "The tensors of a checkpoint (.safetensors, .index.json, .npz, .pt, a directory): "
      "name, dtype, shape, bytes, weight, tied_to, withheld; and the reader's notes.");

  m.def(
      "identify",
      [](const py::object& data, const std::string& bits, const py::object& shape,
         std::uint64_t seed, double alpha, int threads) {
        verify::run_request request =
            request_with(seed, alpha, threads, std::int64_t{2} << 30, false);
        std::vector<py::buffer_info> held;
        const tensor_view view = view_of_data(data, bits, "identify", held);
        const tensor_shape fans = shape.is_none() ? view.shape : shape.cast<tensor_shape>();
        std::vector<verify::candidate> candidates;
        {
          py::gil_scoped_release release;
          candidates = verify::identify(view, fans, request.options);
        }
        py::list out;
        for (const auto& c : candidates)
          out.append(py::dict(
              py::arg("scheme") = c.scheme,
              py::arg("layout") = std::string(to_string(c.tensor_layout)), py::arg("law") = c.law,
              py::arg("statistic") = c.statistic, py::arg("p_value") = c.p_value,
              py::arg("variance_ratio") = c.variance_ratio, py::arg("passed") = c.passed));
        return out;
      },
      py::arg("data"), py::arg("dtype"), py::arg("shape"), py::arg("seed"), py::arg("alpha"),
      py::arg("threads"),
      "The catalogue's schemes ranked by fit to the data (verify::identify), best first.");
  m.def(
      "canonical", [](const std::string& spec) { return parse_scheme(spec).spec(); },
      py::arg("scheme"), "The canonical spelling of a scheme spec (ValueError for a bad one).");
  m.def(
      "schemes",
      [] {
        py::list out;
        for (const auto& s : scheme_catalog())
          out.append(py::dict(
              py::arg("name") = std::string(s.name), py::arg("alias_of") = std::string(s.alias_of),
              py::arg("formula") = std::string(s.formula), py::arg("uses_fans") = s.uses_fans));
        return out;
      },
      "The scheme catalogue, as `verinit list` shows it.");
  m.def(
      "fans",
      [](const tensor_shape& shape, const std::string& layout_name) {
        const fans f = compute_fans(shape, parse_layout(layout_name));
        return py::make_tuple(f.fan_in, f.fan_out, f.receptive_field);
      },
      py::arg("shape"), py::arg("layout"), "(fan_in, fan_out, receptive_field) of a shape.");

  py::class_<io::tensor_file>(m, "TensorFile", "One tensor of an .npy file or a checkpoint")
      .def_static(
          "open",
          [](const std::filesystem::path& path, const std::string& tensor,
             const std::string& bits16) {
            std::optional<dtype> type;
            if (!bits16.empty()) type = parse_dtype(bits16);
            if (type && verinit::info(*type).size != 2) type.reset();  // a float file's own
            io::tensor_file file = io::tensor_file::open(path, tensor, type);
            if (!bits16.empty() && parse_dtype(bits16) != file.view().type)
              bad("verify: dtype is '" + bits16 + "', but the file's tensor is " +
                  std::string(to_string(file.view().type)));
            return file;
          },
          py::arg("path"), py::arg("tensor") = "", py::arg("dtype") = "")
      .def_property_readonly(
          "dtype", [](const io::tensor_file& f) { return std::string(to_string(f.view().type)); })
      .def_property_readonly("shape", [](const io::tensor_file& f) { return f.view().shape; });

  py::class_<run_handle>(m, "Run", "A verification run's result (wrapped by verinit.Result)")
      .def_property_readonly("passed", [](const run_handle& r) { return r.result.passed; })
      .def_property_readonly("unmatched", [](const run_handle& r) { return r.result.unmatched; })
      .def_property_readonly("skipped", [](const run_handle& r) { return r.result.skipped; })
      .def_property_readonly("tied", [](const run_handle& r) { return r.result.tied; })
      .def_property_readonly("notes", [](const run_handle& r) { return r.result.notes; })
      .def("to_json", [](const run_handle& r) { return reports::to_json(r.result); })
      .def("to_html", [](const run_handle& r) { return reports::to_html(r.result); })
      .def("to_markdown", [](const run_handle& r) { return reports::to_markdown(r.result); })
      .def("to_junit", [](const run_handle& r) { return reports::to_junit(r.result); })
      .def(
          "write_report",
          [](const run_handle& r, const std::filesystem::path& directory) {
            py::gil_scoped_release release;
            reports::write_report(r.result, directory);
          },
          py::arg("directory"));

  py::class_<verify::model_rules>(m, "Rules", "A parsed rules document (verinit/verify/model.hpp)")
      .def_static(
          "parse",
          [](const std::string& text, const std::string& source) {
            return verify::parse_rules(text, source);
          },
          py::arg("text"), py::arg("source") = "rules")
      .def_property_readonly("layout",
                             [](const verify::model_rules& r) -> py::object {
                               if (!r.tensor_layout) return py::none();
                               return py::str(std::string(to_string(*r.tensor_layout)));
                             })
      .def("__len__", [](const verify::model_rules& r) { return r.rules.size(); })
      .def(
          "match",
          [](const verify::model_rules& r, const std::string& name) -> py::object {
            const verify::tensor_rule* rule = verify::match_rule(r, name);
            if (rule == nullptr) return py::none();
            return rule_dict(*rule);
          },
          py::arg("name"), "The first matching rule as a dict, or None.")
      .def(
          "fans_shape",
          [](const verify::model_rules& r, const std::string& name, const std::string& layout_name,
             const std::map<std::string, tensor_shape>& shapes) -> std::optional<tensor_shape> {
            const verify::tensor_rule* rule = verify::match_rule(r, name);
            if (rule == nullptr) return std::nullopt;
            const layout l =
                rule->tensor_layout.value_or(r.tensor_layout.value_or(parse_layout(layout_name)));
            return verify::fans_shape_of(
                *rule, name, l, [&](std::string_view other) -> std::optional<tensor_shape> {
                  const auto it = shapes.find(std::string(other));
                  if (it == shapes.end()) return std::nullopt;
                  return it->second;
                });
          },
          py::arg("name"), py::arg("layout"), py::arg("shapes"),
          "The shape whose fans the matching rule names (None: the tensor's own).");
  m.def("verify_model_cases", &verify_model_cases, py::arg("tensors"), py::arg("rules"),
        py::arg("layout"), py::arg("source"), py::arg("seed"), py::arg("alpha"), py::arg("threads"),
        py::arg("memory"), py::arg("summaries"),
        "Plans a model's tensors by the rules and runs them as one verification.");

  m.def("verify_model_path", &verify_model_path, py::arg("path"), py::arg("rules"),
        py::arg("layout"), py::arg("source"), py::arg("seed"), py::arg("alpha"), py::arg("threads"),
        py::arg("memory"), py::arg("summaries"), py::arg("key") = "",
        "Verifies a checkpoint file by the rules, its tensors held within the memory budget.");

  m.def("reduce_parts", &reduce_parts, py::arg("tensors"), py::arg("rules"), py::arg("layout"),
        py::arg("source"), py::arg("threads"),
        "A process's parts of a model planned by the rules and reduced (verinit.distributed).");
  m.def("run_parts", &run_parts, py::arg("parts"), py::arg("unmatched"), py::arg("skipped"),
        py::arg("tied"), py::arg("notes"), py::arg("seed"), py::arg("alpha"), py::arg("threads"),
        "One verification of the parts every process reduced (verinit.distributed).");
  m.def(
      "run_from_json", [](const std::string& text) { return run_handle{reports::from_json(text)}; },
      py::arg("text"), "A run read back from its results JSON (verinit.distributed).");
  m.def("verify_cases", &verify_cases, py::arg("cases"), py::arg("seed"), py::arg("alpha"),
        py::arg("threads"), py::arg("memory"), py::arg("summaries"),
        "Runs one verification over the cases (dicts; GIL released during the run).");
}

// The SVG plotter.
#include "verinit/reports/detail/svg.hpp"

#include <algorithm>
#include <cmath>

#include "verinit/reports/detail/format.hpp"

namespace verinit::reports::detail {
namespace {

std::string fixed(double value) { return format_fixed2(value); }

// Appends "x,y" in pixels: a plot's curves hold most of a report's numbers.
void append_point(std::string& out, double x, double y) {
  append_fixed2(out, x);
  out += ',';
  append_fixed2(out, y);
}

}  // namespace

std::vector<double> nice_ticks(double low, double high, int target, bool log) {
  std::vector<double> ticks;
  if (!(low < high) || !std::isfinite(low) || !std::isfinite(high) || target < 1) return ticks;
  if (log) {
    if (!(low > 0)) return ticks;
    const int first = static_cast<int>(std::ceil(std::log10(low) - 1e-9));
    const int last = static_cast<int>(std::floor(std::log10(high) + 1e-9));
    const int step = std::max(1, (last - first + target) / target);
    for (int e = first; e <= last; e += step) ticks.push_back(std::pow(10.0, e));
    return ticks;
  }
  const double raw = (high - low) / target;
  const double exponent = std::floor(std::log10(raw));
  double multiple = 1;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    multiple = m;
    if (m * std::pow(10.0, exponent) >= raw) break;
  }
  // tick = k * multiple * 10^exponent, computed as (k * multiple) / 10^-exponent for negative
  // exponents, so 0.6 comes out as 0.6 and not 3 * 0.2 = 0.6000000000000001.
  const double scale = std::pow(10.0, std::abs(exponent));
  const auto value = [&](double k) {
    return exponent < 0 ? k * multiple / scale : k * multiple * scale;
  };
  const double step = value(1);
  for (double k = std::ceil(low / step - 1e-9); value(k) <= high + step * 1e-9; k += 1)
    ticks.push_back(value(k) == 0 ? 0.0 : value(k));
  return ticks;
}

svg_plot::svg_plot(std::string id, std::string title, plot_axis x, plot_axis y, int width,
                   int height)
    : id_(std::move(id)),
      title_(std::move(title)),
      x_(std::move(x)),
      y_(std::move(y)),
      width_(width),
      height_(height) {
  // A degenerate range would divide by zero: widen it.
  for (plot_axis* a : {&x_, &y_}) {
    if (a->log && !(a->low > 0)) a->low = a->high > 0 ? a->high / 1e3 : 1e-3;
    if (!(a->low < a->high)) {
      const double pad = a->low == 0 ? 1 : std::abs(a->low) * 0.1;
      a->low -= a->log ? 0 : pad;
      a->high += a->log ? a->low * 9 : pad;
    }
  }
}

double svg_plot::px(double x) const {
  const double t =
      x_.log ? (std::log10(x) - std::log10(x_.low)) / (std::log10(x_.high) - std::log10(x_.low))
             : (x - x_.low) / (x_.high - x_.low);
  return left_ + t * (width_ - left_ - right_);
}

double svg_plot::py(double y) const {
  const double t =
      y_.log ? (std::log10(y) - std::log10(y_.low)) / (std::log10(y_.high) - std::log10(y_.low))
             : (y - y_.low) / (y_.high - y_.low);
  return height_ - bottom_ - t * (height_ - top_ - bottom_);
}

void svg_plot::add_legend(const std::string& colour, const std::string& legend, const char* kind) {
  if (!legend.empty()) legend_.emplace_back(colour, std::string(kind) + ":" + legend);
}

void svg_plot::bars(const std::vector<double>& edges, const std::vector<double>& heights,
                    const std::string& colour, const std::string& legend) {
  const double base = y_.log ? y_.low : std::max(y_.low, 0.0);
  for (std::size_t i = 0; i + 1 < edges.size() && i < heights.size(); ++i) {
    if (!std::isfinite(heights[i]) || (y_.log && !(heights[i] > 0))) continue;
    const double x0 = px(edges[i]), x1 = px(edges[i + 1]);
    const double y0 = py(std::min(heights[i], y_.high * 10)), y1 = py(base);
    body_ += "<rect x=\"" + fixed(x0) + "\" y=\"" + fixed(std::min(y0, y1)) + "\" width=\"" +
             fixed(std::max(0.0, x1 - x0)) + "\" height=\"" + fixed(std::abs(y1 - y0)) +
             "\" fill=\"" + colour + "\" fill-opacity=\"0.55\"/>\n";
  }
  add_legend(colour, legend, "bar");
}

void svg_plot::line(const std::vector<double>& xs, const std::vector<double>& ys,
                    const std::string& colour, const std::string& legend, bool dashed) {
  std::string points;
  const auto flush = [&] {
    if (!points.empty())
      body_ += "<polyline fill=\"none\" stroke=\"" + colour + "\" stroke-width=\"1.8\"" +
               (dashed ? " stroke-dasharray=\"5,3\"" : "") + " points=\"" + points + "\"/>\n";
    points.clear();
  };
  for (std::size_t i = 0; i < xs.size() && i < ys.size(); ++i) {
    const bool ok = std::isfinite(xs[i]) && std::isfinite(ys[i]) && (!x_.log || xs[i] > 0) &&
                    (!y_.log || ys[i] > 0);
    if (!ok) {
      flush();
      continue;
    }
    // Clamp far-off values so the clip path, not the number's size, decides what shows.
    const double y = std::clamp(py(ys[i]), -10.0 * height_, 11.0 * height_);
    if (!points.empty()) points += ' ';
    append_point(points, px(xs[i]), y);
  }
  flush();
  add_legend(colour, legend, dashed ? "dash" : "line");
}

void svg_plot::band(const std::vector<double>& xs, const std::vector<double>& lower,
                    const std::vector<double>& upper, const std::string& colour,
                    const std::string& legend) {
  std::string points;
  for (std::size_t i = 0; i < xs.size(); ++i)
    if (std::isfinite(xs[i])) {
      append_point(points, px(xs[i]), py(upper[i]));
      points += ' ';
    }
  for (std::size_t i = xs.size(); i-- > 0;)
    if (std::isfinite(xs[i])) {
      append_point(points, px(xs[i]), py(lower[i]));
      points += ' ';
    }
  if (!points.empty()) {
    points.pop_back();
    body_ += "<polygon fill=\"" + colour + "\" fill-opacity=\"0.25\" stroke=\"none\" points=\"" +
             points + "\"/>\n";
  }
  add_legend(colour, legend, "bar");
}

void svg_plot::points(const std::vector<double>& xs, const std::vector<double>& ys,
                      const std::string& colour, const std::string& legend) {
  for (std::size_t i = 0; i < xs.size() && i < ys.size(); ++i) {
    if (!std::isfinite(xs[i]) || !std::isfinite(ys[i])) continue;
    if ((x_.log && !(xs[i] > 0)) || (y_.log && !(ys[i] > 0))) continue;
    body_ += "<circle cx=\"" + fixed(px(xs[i])) + "\" cy=\"" +
             fixed(std::clamp(py(ys[i]), -10.0 * height_, 11.0 * height_)) +
             "\" r=\"2.2\" fill=\"" + colour + "\"/>\n";
  }
  add_legend(colour, legend, "dot");
}

void svg_plot::legend_outside(double width) {
  legend_outside_ = true;
  right_ = width;
}

std::string svg_plot::str() const {
  const double x0 = left_, x1 = width_ - right_, y0 = top_, y1 = height_ - bottom_;
  std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width_) +
                  "\" height=\"" + std::to_string(height_) + "\" viewBox=\"0 0 " +
                  std::to_string(width_) + " " + std::to_string(height_) +
                  "\" font-family=\"sans-serif\" font-size=\"11\" role=\"img\">\n";
  s += "<title>" + escape_xml(title_) + "</title>\n";
  s += "<defs><clipPath id=\"clip-" + escape_xml(id_) + "\"><rect x=\"" + fixed(x0) + "\" y=\"" +
       fixed(y0) + "\" width=\"" + fixed(x1 - x0) + "\" height=\"" + fixed(y1 - y0) +
       "\"/></clipPath></defs>\n";
  s += "<rect x=\"0\" y=\"0\" width=\"" + std::to_string(width_) + "\" height=\"" +
       std::to_string(height_) + "\" fill=\"white\"/>\n";
  s += "<text x=\"" + fixed(x0) + "\" y=\"18\" font-size=\"13\" font-weight=\"bold\">" +
       escape_xml(title_) + "</text>\n";
  // Grid and ticks.
  for (double t : nice_ticks(x_.low, x_.high, 5, x_.log)) {
    const double p = px(t);
    s += "<line x1=\"" + fixed(p) + "\" y1=\"" + fixed(y0) + "\" x2=\"" + fixed(p) + "\" y2=\"" +
         fixed(y1 + 4) + "\" stroke=\"#ddd\"/>\n";
    s += "<text x=\"" + fixed(p) + "\" y=\"" + fixed(y1 + 16) + "\" text-anchor=\"middle\">" +
         escape_xml(format_number(t, 3)) + "</text>\n";
  }
  for (double t : nice_ticks(y_.low, y_.high, 5, y_.log)) {
    const double p = py(t);
    s += "<line x1=\"" + fixed(x0 - 4) + "\" y1=\"" + fixed(p) + "\" x2=\"" + fixed(x1) +
         "\" y2=\"" + fixed(p) + "\" stroke=\"#ddd\"/>\n";
    s += "<text x=\"" + fixed(x0 - 6) + "\" y=\"" + fixed(p + 4) + "\" text-anchor=\"end\">" +
         escape_xml(format_number(t, 3)) + "</text>\n";
  }
  s += "<g clip-path=\"url(#clip-" + escape_xml(id_) + ")\">\n" + body_ + "</g>\n";
  s += "<rect x=\"" + fixed(x0) + "\" y=\"" + fixed(y0) + "\" width=\"" + fixed(x1 - x0) +
       "\" height=\"" + fixed(y1 - y0) + "\" fill=\"none\" stroke=\"#444\"/>\n";
  s += "<text x=\"" + fixed((x0 + x1) / 2) + "\" y=\"" + fixed(height_ - 8.0) +
       "\" text-anchor=\"middle\">" + escape_xml(x_.label) + "</text>\n";
  s += "<text transform=\"translate(14," + fixed((y0 + y1) / 2) +
       ") rotate(-90)\" text-anchor=\"middle\">" + escape_xml(y_.label) + "</text>\n";
  if (!legend_.empty()) {
    std::size_t longest = 0;
    for (const auto& [colour, entry] : legend_) longest = std::max(longest, entry.size());
    double w = 30 + 6.2 * static_cast<double>(longest);
    if (legend_outside_) w = std::min(w, right_ - 12);
    const double h = 6 + 15.0 * legend_.size();
    const double lx = legend_outside_ ? x1 + 8 : x1 - w - 6, ly = y0 + 6;
    s += "<rect x=\"" + fixed(lx) + "\" y=\"" + fixed(ly) + "\" width=\"" + fixed(w) +
         "\" height=\"" + fixed(h) + "\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#bbb\"/>\n";
    for (std::size_t i = 0; i < legend_.size(); ++i) {
      const auto& [colour, entry] = legend_[i];
      const std::size_t colon = entry.find(':');
      const std::string kind = entry.substr(0, colon), text = entry.substr(colon + 1);
      const double cy = ly + 12 + 15.0 * i;
      if (kind == "bar")
        s += "<rect x=\"" + fixed(lx + 6) + "\" y=\"" + fixed(cy - 6) +
             "\" width=\"16\" height=\"9\" fill=\"" + colour + "\" fill-opacity=\"0.55\"/>\n";
      else if (kind == "dot")
        s += "<circle cx=\"" + fixed(lx + 14) + "\" cy=\"" + fixed(cy - 2) + "\" r=\"3\" fill=\"" +
             colour + "\"/>\n";
      else
        s += "<line x1=\"" + fixed(lx + 6) + "\" y1=\"" + fixed(cy - 2) + "\" x2=\"" +
             fixed(lx + 22) + "\" y2=\"" + fixed(cy - 2) + "\" stroke=\"" + colour +
             "\" stroke-width=\"2\"" + (kind == "dash" ? " stroke-dasharray=\"5,3\"" : "") + "/>\n";
      s += "<text x=\"" + fixed(lx + 27) + "\" y=\"" + fixed(cy + 2) + "\">" + escape_xml(text) +
           "</text>\n";
    }
  }
  s += "</svg>\n";
  return s;
}

}  // namespace verinit::reports::detail

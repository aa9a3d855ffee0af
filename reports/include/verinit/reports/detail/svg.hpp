// A small SVG plotter for the HTML report: one plot with axes, ticks, labels and a legend.
// Output is well-formed XML (tests/reports/svg_test.cpp parses it).
#pragma once

#include <string>
#include <vector>

namespace verinit::reports::detail {

struct plot_axis {
  double low = 0, high = 1;
  bool log = false;  ///< log10 scale (low > 0)
  std::string label;
};

/// Round tick values within [low, high]: 1, 2 or 5 times a power of ten apart (about `target`
/// of them), or powers of ten on a log axis.
std::vector<double> nice_ticks(double low, double high, int target, bool log);

class svg_plot {
 public:
  /// `id` must be unique in the page (it names the plot's clip path).
  svg_plot(std::string id, std::string title, plot_axis x, plot_axis y, int width = 400,
           int height = 280);

  /// Bars from edges[i] to edges[i + 1] of height heights[i].
  void bars(const std::vector<double>& edges, const std::vector<double>& heights,
            const std::string& colour, const std::string& legend);
  /// A polyline through the finite points; a non-finite value breaks the line.
  void line(const std::vector<double>& xs, const std::vector<double>& ys, const std::string& colour,
            const std::string& legend, bool dashed = false);
  /// A filled band between lower and upper.
  void band(const std::vector<double>& xs, const std::vector<double>& lower,
            const std::vector<double>& upper, const std::string& colour, const std::string& legend);
  /// Small circles at the finite points.
  void points(const std::vector<double>& xs, const std::vector<double>& ys,
              const std::string& colour, const std::string& legend);

  /// Draws the legend right of the plot area instead of inside it (widens the right margin).
  void legend_outside(double width);

  std::string str() const;

 private:
  double px(double x) const;
  double py(double y) const;
  void add_legend(const std::string& colour, const std::string& legend, const char* kind);

  std::string id_, title_;
  plot_axis x_, y_;
  int width_, height_;
  double left_ = 64, right_ = 14, top_ = 30, bottom_ = 44;
  bool legend_outside_ = false;
  std::string body_;
  std::vector<std::pair<std::string, std::string>> legend_;  // colour, "kind:text"
};

}  // namespace verinit::reports::detail

// identify(): the catalogue's scheme that made a tensor ranks first and passes, in either
// layout's spelling; none passes for values no scheme makes; the ranking is the same bits on
// any thread count; add_identification() says what a failed tensor fits.
#include "verinit/verify/identify.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "verinit/fill.hpp"

namespace {

using namespace verinit::verify;

std::vector<float> draw(const std::string& spec, const verinit::tensor_shape& shape,
                        verinit::layout l = verinit::layout::torch) {
  verinit::fill_options options;
  options.seed = 11;
  options.layout = l;
  return verinit::sample<float>(shape, verinit::parse_scheme(spec), options);
}

std::vector<candidate> identify_of(const std::vector<float>& data,
                                   const verinit::tensor_shape& shape, int threads = 2) {
  run_options options;
  options.threads = threads;
  return identify(verinit::view_of<float>(data, shape), shape, options);
}

const verinit::tensor_shape shape{256, 512};

TEST(IdentifyTest, TheSchemeThatMadeTheTensorRanksFirst) {
  for (const std::string spec :
       {"torch_linear", "kaiming_normal(mode=fan_out)", "xavier_uniform", "lecun_normal",
        "normal(std=0.02)",
        "variance_scaling(scale=2,mode=fan_in,distribution=truncated_normal)"}) {
    const auto candidates = identify_of(draw(spec, shape), shape);
    ASSERT_FALSE(candidates.empty());
    EXPECT_EQ(candidates.front().scheme, spec);
    EXPECT_TRUE(candidates.front().passed) << spec;
    EXPECT_EQ(candidates.front().tensor_layout, verinit::layout::torch) << spec;
    EXPECT_FALSE(candidates.at(1).passed) << spec << ": " << candidates[1].scheme;
    EXPECT_LT(candidates.front().statistic, candidates.at(1).statistic) << spec;
  }
}

TEST(IdentifyTest, KerasFansAreNamedInKerasLayout) {
  // He normal with Keras's fans ([in, out]: fan_in = 256) is kaiming_normal in keras layout,
  // which torch's spelling cannot say on this shape (its fan_in is 512, fan_out 256: the same
  // law as kaiming_normal(mode=fan_out), the torch spelling kept).
  const auto candidates = identify_of(draw("kaiming_normal", shape, verinit::layout::keras), shape);
  EXPECT_EQ(candidates.front().scheme, "kaiming_normal(mode=fan_out)");
  EXPECT_TRUE(candidates.front().passed);
  // LeCun uniform with Keras's fan_in 256 on [256, 384], U(+-sqrt(3/256)): on a torch tensor
  // that is U(+-sqrt(3/fan_out)), named in torch's spelling, not as a Keras scheme.
  const verinit::tensor_shape other{256, 384};
  const auto lecun = identify_of(draw("lecun_uniform", other, verinit::layout::keras), other);
  EXPECT_EQ(lecun.front().scheme, "kaiming_uniform(mode=fan_out,nonlinearity=linear)");
  EXPECT_EQ(lecun.front().tensor_layout, verinit::layout::torch);
  // Keras's truncated He normal with its fan_in 256 has no torch spelling: Keras layout.
  const char* keras_he = "variance_scaling(scale=2,mode=fan_in,distribution=truncated_normal)";
  const auto he = identify_of(draw(keras_he, other, verinit::layout::keras), other);
  EXPECT_EQ(he.front().scheme, keras_he);
  EXPECT_EQ(he.front().tensor_layout, verinit::layout::keras);
}

TEST(IdentifyTest, ExactLawsAndNothingThatFits) {
  const verinit::tensor_shape bias{512};
  EXPECT_EQ(identify_of(std::vector<float>(512, 0.0f), bias).front().scheme, "zeros");
  EXPECT_EQ(identify_of(std::vector<float>(512, 1.0f), bias).front().scheme, "ones");
  auto broken = draw("torch_linear", shape);
  for (std::size_t k = 0; k < 512; ++k) broken[k] = std::numeric_limits<float>::quiet_NaN();
  for (const auto& c : identify_of(broken, shape)) EXPECT_FALSE(c.passed) << c.scheme;
  // Only specs that fit: orthogonal is not tried on a vector.
  for (const auto& c : identify_of(std::vector<float>(512, 0.0f), bias))
    EXPECT_NE(c.scheme, "orthogonal");
}

TEST(IdentifyTest, TheSameBitsOnAnyThreadCount) {
  const auto data = draw("xavier_normal", shape);
  const auto one = identify_of(data, shape, 1), two = identify_of(data, shape, 2);
  ASSERT_EQ(one.size(), two.size());
  for (std::size_t k = 0; k < one.size(); ++k) {
    EXPECT_EQ(one[k].scheme, two[k].scheme);
    EXPECT_EQ(one[k].statistic, two[k].statistic);
    EXPECT_EQ(one[k].p_value, two[k].p_value);
  }
}

TEST(IdentifyTest, AFailedCaseSaysWhatItsSamplesFit) {
  const auto reinit = draw("normal(std=0.02)", shape);
  const auto good = draw("torch_linear", shape);
  run_request request;
  request.options.threads = 2;
  request.cases.push_back({case_spec::of("torch_linear", shape),
                           verinit::view_of<float>(reinit, shape), "test", "head.weight"});
  request.cases.push_back({case_spec::of("torch_linear", shape),
                           verinit::view_of<float>(good, shape), "test", "fc.weight"});
  run_result result = run(request);
  add_identification(result, request);
  // The candidates read the tensor's first 2^14 values, and say so.
  EXPECT_NE(result.cases[0].diagnosis.find(
                "; the samples fit normal(std=0.02) on its first 16384 values (KS D"),
            std::string::npos)
      << result.cases[0].diagnosis;
  EXPECT_EQ(result.cases[1].diagnosis, "");
}

}  // namespace

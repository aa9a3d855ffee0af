#include "verinit/scheme.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using verinit::parse_scheme;
using verinit::scheme_kind;

std::string message_of(const char* spec) {
  try {
    parse_scheme(spec);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no exception)";
}

TEST(SchemeTest, FillsInPyTorchDefaults) {
  const auto s = parse_scheme("kaiming_normal");
  EXPECT_EQ(s.kind(), scheme_kind::kaiming_normal);
  EXPECT_EQ(s.number("a"), 0.0);
  EXPECT_EQ(s.choice("mode"), "fan_in");
  EXPECT_EQ(s.choice("nonlinearity"), "leaky_relu");
  EXPECT_EQ(s.spec(), "kaiming_normal(a=0,mode=fan_in,nonlinearity=leaky_relu)");
  const auto t = parse_scheme("truncated_normal");
  EXPECT_EQ(t.spec(), "truncated_normal(mean=0,std=1,a=-2,b=2)");
  EXPECT_EQ(parse_scheme("variance_scaling").spec(),
            "variance_scaling(scale=1,mode=fan_in,distribution=truncated_normal)");
}

TEST(SchemeTest, ParsesKeysInAnyOrderWithSpaces) {
  const auto s = parse_scheme("  kaiming_uniform( nonlinearity = relu , mode=fan_out ) ");
  EXPECT_EQ(s.choice("mode"), "fan_out");
  EXPECT_EQ(s.choice("nonlinearity"), "relu");
  EXPECT_EQ(parse_scheme("uniform(b=0.3, a=-0.3)").number("a"), -0.3);
  EXPECT_EQ(parse_scheme("normal()").spec(), "normal(mean=0,std=1)");
}

TEST(SchemeTest, SpecRoundTripsForEveryCatalogEntry) {
  for (const auto& info : verinit::scheme_catalog()) {
    std::string spec(info.name);
    if (info.kind == scheme_kind::constant) spec = "constant(value=-2.5)";
    if (info.kind == scheme_kind::sparse) spec = "sparse(sparsity=0.25)";
    const auto s = parse_scheme(spec);
    EXPECT_EQ(parse_scheme(s.spec()), s) << spec;
  }
}

TEST(SchemeTest, AliasesResolveToTheirCanonicalScheme) {
  EXPECT_EQ(parse_scheme("glorot_uniform"), parse_scheme("xavier_uniform"));
  EXPECT_EQ(parse_scheme("glorot_normal(gain=2)"), parse_scheme("xavier_normal(gain=2)"));
  const auto linear = parse_scheme("torch_linear");
  EXPECT_EQ(linear, parse_scheme("kaiming_uniform(a=2.23606797749979)"));
  EXPECT_EQ(linear.name(), "kaiming_uniform");
  EXPECT_THROW(parse_scheme("torch_linear(a=1)"), std::invalid_argument);
  EXPECT_EQ(
      parse_scheme("variance_scaling(distribution=untruncated_normal)").choice("distribution"),
      "normal");
}

TEST(SchemeTest, MessagesNameTheValueAndWhatWasExpected) {
  EXPECT_NE(message_of("he_normall").find("'he_normall'"), std::string::npos);
  // The nearest names, not the whole catalogue.
  EXPECT_EQ(message_of("he_normall"),
            "scheme: name is 'he_normall', but must be a scheme of the catalogue: did you mean "
            "he_normal?");
  EXPECT_NE(message_of("kaiming_unifrom").find("did you mean kaiming_uniform?"), std::string::npos);
  EXPECT_EQ(message_of("resnet"),
            "scheme: name is 'resnet', but must be a scheme of the catalogue (verinit list)");
  EXPECT_EQ(message_of("xavier_uniform(gian=2)"),
            "xavier_uniform: key is 'gian', but must be one of gain");
  EXPECT_EQ(message_of("normal(std=nan)"), "normal: std is nan, but must be finite");
  EXPECT_EQ(message_of("normal(std=-1)"), "normal: std is -1, but must be finite and > 0");
  EXPECT_EQ(message_of("uniform(a=1,b=1)"), "uniform: a is 1, but must be < b = 1");
  EXPECT_EQ(message_of("constant"),
            "constant: value is missing, but must be given (it has no default)");
  EXPECT_EQ(message_of("kaiming_normal(mode=fan_avg)"),
            "kaiming_normal: mode is 'fan_avg', but must be one of fan_in, fan_out");
}

TEST(SchemeTest, RejectsEveryBadParameter) {
  for (const char* bad : {"",
                          "nope",
                          "zeros(value=1)",
                          "normal(std=0)",
                          "normal(std=inf)",
                          "normal(mean=nan)",
                          "normal(std=1",
                          "normal(std)",
                          "normal(std=1,std=2)",
                          "normal(std=1,)",
                          "normal(std=abc)",
                          "normal(std=1e999)",
                          "uniform(a=2,b=1)",
                          "uniform(a=-inf)",
                          "truncated_normal(a=3,b=2)",
                          "truncated_normal(std=-0.1)",
                          "sparse",
                          "sparse(sparsity=1.5)",
                          "sparse(sparsity=-0.1)",
                          "sparse(sparsity=0.5,std=0)",
                          "dirac(groups=0)",
                          "dirac(groups=1.5)",
                          "xavier_uniform(gain=0)",
                          "orthogonal(gain=-1)",
                          "variance_scaling(scale=0)",
                          "variance_scaling(distribution=cauchy)",
                          "kaiming_uniform(nonlinearity=gelu)",
                          "kaiming_uniform(a=nan)",
                          "he_normal(gain=2)"}) {
    EXPECT_THROW(parse_scheme(bad), std::invalid_argument) << bad;
  }
}

TEST(SchemeTest, AccessorsRejectUnknownKeys) {
  const auto s = parse_scheme("normal");
  EXPECT_THROW(s.number("gain"), std::invalid_argument);
  EXPECT_THROW(s.choice("mean"), std::invalid_argument);
}

TEST(SchemeTest, CatalogHasEveryKindOnceAsCanonical) {
  int canonical = 0;
  for (const auto& info : verinit::scheme_catalog()) canonical += info.alias_of.empty() ? 1 : 0;
  EXPECT_EQ(canonical, static_cast<int>(scheme_kind::orthogonal) + 1);
}

}  // namespace

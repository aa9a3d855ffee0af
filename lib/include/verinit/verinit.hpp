// Everything of verinit's initializer library (the file formats are verinit::io's).
#pragma once

#include "verinit/dtype.hpp"
#include "verinit/engine.hpp"
#include "verinit/fill.hpp"
#include "verinit/gain.hpp"
#include "verinit/law.hpp"
#include "verinit/philox.hpp"
#include "verinit/scheme.hpp"
#include "verinit/shape.hpp"
#include "verinit/tensor.hpp"
#include "verinit/version.hpp"

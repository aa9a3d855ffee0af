// Everything of verinit's initializer library.
#pragma once

#include "verinit/engine.hpp"
#include "verinit/fill.hpp"
#include "verinit/gain.hpp"
#include "verinit/law.hpp"
#include "verinit/npy.hpp"
#include "verinit/philox.hpp"
#include "verinit/scheme.hpp"
#include "verinit/shape.hpp"

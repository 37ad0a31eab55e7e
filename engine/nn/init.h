// Initialisers matching PyTorch's definitions (the values differ, since our RNG is Philox).
// All draw from a Generator so a model's initialisation is a pure function of one seed.
#pragma once
#include "engine/generator.h"
#include "engine/tensor.h"

namespace dispa::init {

// nn.Linear default: weight ~ U(-b, b), b = gain * sqrt(3 / fan_in) with kaiming a = sqrt(5),
// i.e. b = 1/sqrt(fan_in); bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
void linear_default_(Tensor& weight, Tensor& bias, Generator& gen);
void kaiming_uniform_(Tensor& weight, double a, Generator& gen);  // fan_in = weight.dim(1)*...
void xavier_uniform_(Tensor& weight, Generator& gen, double gain = 1.0);
void normal_(Tensor& t, double mean, double stddev, Generator& gen);
void uniform_(Tensor& t, double lo, double hi, Generator& gen);
void zeros_(Tensor& t);
void ones_(Tensor& t);

}  // namespace dispa::init

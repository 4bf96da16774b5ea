/* libtensorquant: see what quantization does to deep neural networks.
 *
 * The umbrella header: include this one. */
#ifndef TENSORQUANT_H
#define TENSORQUANT_H

#include "analysis.h"
#include "calibrate.h"
#include "comm.h"
#include "data.h"
#include "evaluate.h"
#include "export.h"
#include "graph.h"
#include "layers.h"
#include "models.h"
#include "npy.h"
#include "onnx.h"
#include "op.h"
#include "qmap.h"
#include "quantizer.h"
#include "report.h"
#include "session.h"
#include "stats.h"
#include "status.h"
#include "tensor.h"
#include "train.h"
#include "tensorquant/version.h"

#endif

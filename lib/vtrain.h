/* vtrain: the umbrella header of libvtrain. */
#ifndef VTRAIN_H
#define VTRAIN_H

#include "error.h"
#include "stream/codec.h"
#include "stream/fdio.h"
#include "stream/format.h"
#include "stream/formats.h"
#include "stream/input.h"
#include "bridge/model.h"
#include "stream/output.h"
#include "stream/reader.h"
#include "stream/writer.h"
#include "train/rng.h"

#endif

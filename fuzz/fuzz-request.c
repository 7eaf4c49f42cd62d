/* SPDX-License-Identifier: MIT
 *
 * libFuzzer target: bytes a client sends to a member socket, through the
 * server's framing and holder_request_parse (see fuzz-harness.h).
 */
#define G_LOG_DOMAIN "holder-fuzz"

#include <stddef.h>
#include <stdint.h>

#include "fuzz-harness.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  holder_fuzz_request (data, size);
  return 0;
}

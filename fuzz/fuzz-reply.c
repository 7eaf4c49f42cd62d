/* SPDX-License-Identifier: MIT
 *
 * libFuzzer target: bytes a helper sends back to a client, through the
 * client's framing and holder_reply_parse (see fuzz-harness.h).
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
  holder_fuzz_reply (data, size);
  return 0;
}

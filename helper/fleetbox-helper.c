/* fleetbox-helper: picks a backend and runs the holder. Nothing more.
 *
 * SPDX-License-Identifier: MIT
 */
#include <holder.h>

int
main (int    argc,
      char **argv)
{
  return holder_helper_main ("fleetbox-helper", argc, argv);
}

/* holder-libvirt-vm.c: a VM's references (holder-libvirt-private.h).
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-libvirt"

#include "holder-libvirt-private.h"

HolderVm *
holder_libvirt_vm_ref (HolderVm *vm)
{
  g_atomic_int_inc (&vm->ref_count);
  return vm;
}

void
holder_libvirt_vm_unref (HolderVm *vm)
{
  if (vm == NULL || !g_atomic_int_dec_and_test (&vm->ref_count))
    return;
  g_warn_if_fail (!holder_guest_wait_is_pending (vm->wait) && vm->stop_task == NULL);
  if (vm->stop_timer != NULL)
    {
      g_source_destroy (vm->stop_timer);
      g_source_unref (vm->stop_timer);
    }
  g_clear_pointer (&vm->wait, holder_guest_wait_unref);
  holder_libvirt_console_free (vm->console);
  holder_member_spec_free (vm->spec);
  holder_reservation_free (vm->reservation);
  g_free (vm->domain_name);
  g_clear_pointer (&vm->files, holder_vm_files_unref);
  g_free (vm->cmdline);
  g_free (vm->uuid);
  g_free (vm->exit_message);
  g_free (vm);
}

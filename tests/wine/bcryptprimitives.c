/* Test-only stand-in for Windows' bcryptprimitives.dll under Wine 8, which
 * lacks it. Programs built by Rust >= 1.78 import ProcessPrng from it for
 * their random numbers; this forwards to RtlGenRandom (advapi32's
 * SystemFunction036), which Wine has. Built by tests/wine/run.sh beside the
 * test programs; never shipped in a bundle. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}

import CPlatform

/// How the process's allocator treats LiteProof's large buffers.
public enum ProcessMemory {
    /// Buffers of 1 MiB and more come from mmap and go back to the system when freed. Without
    /// this, glibc raises its mmap threshold after the first large free and keeps freed buffers in
    /// per-thread arenas: `verify` (file checks on every core, then a trial restore) peaked at
    /// 68–78 MiB on the append benchmark instead of 62 MiB. Called once, at the start of `main`.
    ///
    /// And at most two malloc arenas: glibc gives each thread that allocates an arena of its own
    /// (up to 8 per core), and the small buffers an HTTP transfer allocates and frees on many
    /// threads at once stay resident in each (a 0.3 restore from S3, 19 threads: 57–70 MB
    /// anonymous memory against a 40 MB heap peak).
    public static func returnLargeBuffersWhenFreed() {
        liteproof_mmap_large_buffers(1 << 20)
        liteproof_limit_arenas(2)
    }

    /// Gives the free pages inside the allocator's arenas back to the system (glibc's
    /// `malloc_trim`): an HTTP transfer's many small buffers, freed out of order, otherwise stay
    /// resident between the live ones.
    public static func trimHeap() {
        liteproof_trim_heap()
    }
}

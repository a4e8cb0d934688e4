//! The pinned hot loops entrybench measures. (stub: issue 3)

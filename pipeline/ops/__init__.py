"""Operations: the health, readiness and metrics endpoints every stage serves."""

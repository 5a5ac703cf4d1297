"""Data helpers of the verifiedhub/zoo hub repository (numpy only; cv2 imported lazily)."""

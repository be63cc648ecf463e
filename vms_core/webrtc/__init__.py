"""WebRTC live view (issue: live view over WebRTC)."""

"""The local lab: a Samba AD DC and a Microsoft Graph emulator on loopback."""

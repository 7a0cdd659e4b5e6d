"""Infrastructure shared by the gateway and every service. No domain rules live here."""

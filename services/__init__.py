"""The platform's services. None imports another; they meet only through events and HTTP."""

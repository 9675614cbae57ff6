"""The math of Diffusion Playground: torch + numpy only, never Qt."""

export const logged: string[];
